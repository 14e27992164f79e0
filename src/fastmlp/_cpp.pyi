"""Type stub of fastmlp._cpp, the pybind11 extension built from csrc/ (the C++ kernels).

Float arrays are C-contiguous float32, labels / order / yb int64, losses float64; the
extension checks its arguments itself and raises TypeError / ValueError naming the argument.
Generated from the bindings' signatures; tests/test_typing.py checks that they agree.
"""
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

_F32 = NDArray[np.float32]

def activation_backward(
    activation: str,
    grad: _F32,
    out_act: _F32 | None,
    pre: _F32 | None,
    out: _F32,
) -> None: ...

def activation_forward(activation: str, x: _F32, out: _F32) -> None: ...

def adam_step(
    param: _F32,
    grad: _F32,
    m: _F32,
    v: _F32,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    step: float,
    weight_decay: float = ...,
) -> None: ...

def adam_train_steps(
    x: _F32,
    labels: NDArray[np.int64],
    order: NDArray[np.int64],
    start: int,
    batch_size: int,
    steps: int,
    xb: _F32,
    yb: NDArray[np.int64],
    weights: Sequence[_F32],
    biases: Sequence[_F32],
    weight_grads: Sequence[_F32],
    bias_grads: Sequence[_F32],
    acts: Sequence[_F32],
    grads: Sequence[_F32],
    activation: str,
    params: _F32,
    param_grads: _F32,
    m: _F32,
    v: _F32,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    t0: int,
    weight_decay: float,
    losses: NDArray[np.float64],
    correct: NDArray[np.int64] | None = ...,
) -> None:
    """Backend.adam_train_steps: `steps` gathered minibatches, each forward_backward and one Adam step (number t0 + s + 1), on one team with the GIL released; `correct` (int64, or None) gets each step's count of rows classified right"""

def adamw_step(
    param: _F32,
    grad: _F32,
    m: _F32,
    v: _F32,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    step: float,
    weight_decay: float = ...,
) -> None: ...

def amx_available() -> bool:
    """Whether the CPU has AMX bfloat16 tiles and the OS lets this process use them"""

def batch_norm_backward(
    grad: _F32,
    x: _F32,
    gamma: _F32,
    mean: _F32,
    invstd: _F32,
    grad_x: _F32,
    grad_gamma: _F32,
    grad_beta: _F32,
) -> None: ...

def batch_norm_forward(
    x: _F32,
    gamma: _F32,
    beta: _F32,
    out: _F32,
    mean: _F32,
    invstd: _F32,
    running_mean: _F32,
    running_var: _F32,
    momentum: float = ...,
    eps: float = ...,
) -> None: ...

def batch_norm_inference(
    x: _F32,
    gamma: _F32,
    beta: _F32,
    running_mean: _F32,
    running_var: _F32,
    out: _F32,
    eps: float = ...,
) -> None: ...

def bf16_matmul_engine() -> str:
    """How bfloat16 GEMMs run under the active ISA: amx, or emulated (rounded float32)"""

def bias_grad(grad: _F32, out: _F32) -> None: ...

def cpu_supports(__arg0: str) -> bool: ...

def dense_forward(
    x: _F32,
    w: _F32,
    b: _F32,
    out: _F32,
    activation: str,
    pre: _F32 | None = ...,
) -> None: ...

def dropout(x: _F32, noise: _F32, p: float, out: _F32) -> None: ...

def flush_denormals() -> bool: ...

def forward_backward(
    x: _F32,
    labels: NDArray[np.int64],
    weights: Sequence[_F32],
    biases: Sequence[_F32],
    weight_grads: Sequence[_F32],
    bias_grads: Sequence[_F32],
    acts: Sequence[_F32],
    grads: Sequence[_F32],
    activation: str,
) -> float: ...

def gemm(
    a: _F32,
    b: _F32,
    out: _F32,
    trans_a: bool = ...,
    trans_b: bool = ...,
    alpha: float = ...,
    beta: float = ...,
) -> None: ...

def isa() -> str:
    """ISA of the kernels in use: avx512, avx2 or generic"""

def matmul_precision() -> str:
    """Precision of every float32 GEMM: float32 or bfloat16"""

def mse_loss(outputs: _F32, labels: NDArray[np.int64], grad: _F32) -> float: ...

def num_threads() -> int: ...

def rmsprop_step(
    param: _F32,
    grad: _F32,
    square_avg: _F32,
    buf: _F32 | None,
    lr: float,
    alpha: float = ...,
    eps: float = ...,
    momentum: float = ...,
    weight_decay: float = ...,
) -> None: ...

def set_flush_denormals(on: bool) -> None: ...

def set_isa(name: str) -> None:
    """Use a lower ISA path (for testing); ValueError if the CPU lacks it"""

def set_matmul_precision(name: str) -> None:
    """float32, or bfloat16: GEMM operands rounded to bfloat16, sums in float32"""

def set_num_threads(n: int) -> None: ...

def sgd_step(
    param: _F32,
    grad: _F32,
    buf: _F32 | None,
    lr: float,
    momentum: float = ...,
    nesterov: bool = ...,
    weight_decay: float = ...,
) -> None: ...

def sigmoid_binary_cross_entropy(logits: _F32, labels: NDArray[np.int64], grad: _F32) -> float: ...

def softmax_cross_entropy(logits: _F32, labels: NDArray[np.int64], grad: _F32) -> float: ...

