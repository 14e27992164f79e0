"""Type stub of fastmlp._cpp, the pybind11 extension built from csrc/ (the C++ kernels).

Float arrays are C-contiguous float32, labels / order / yb int64, losses float64; the
extension checks what makes a call memory-safe (dtype, contiguity, shapes, overlap, index
ranges) and raises TypeError / ValueError naming the argument.
Generated from the bindings' signatures; tests/test_typing.py checks that they agree.
"""
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

_F32 = NDArray[np.float32]

class Network:
    """A plain MLP's arrays (fastmlp.backends.NetworkState), parsed and checked once and kept referenced: what forward_backward and adam_train_steps run on"""

    def __init__(
        self,
        weights: Sequence[_F32],
        biases: Sequence[_F32],
        weight_grads: Sequence[_F32],
        bias_grads: Sequence[_F32],
        acts: Sequence[_F32],
        grads: Sequence[_F32],
        activation: str,
        batch_size: int,
        params: _F32 | None = ...,
        param_grads: _F32 | None = ...,
        m: _F32 | None = ...,
        v: _F32 | None = ...,
        xb: _F32 | None = ...,
        yb: NDArray[np.int64] | None = ...,
    ) -> None: ...
    @property
    def batch_size(self) -> int: ...
    @property
    def layers(self) -> int: ...

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
    network: Network,
    x: _F32,
    labels: NDArray[np.int64],
    order: NDArray[np.int64],
    start: int,
    steps: int,
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
    """How bfloat16 GEMMs run under the active ISA: amx, avx512_bf16 (VDPBF16PS), or emulated (float32 panels rounded to bfloat16: slower than float32)"""

def bias_grad(grad: _F32, out: _F32) -> None: ...

def cpu_supports(__arg0: str) -> bool:
    """Whether this CPU can run an ISA path (avx512, avx2, neon or generic)"""

def dense_forward(
    x: _F32,
    w: _F32,
    b: _F32,
    out: _F32,
    activation: str,
    pre: _F32 | None = ...,
) -> None: ...

def derive_gemm_blocking(
    l1d: int,
    l2: int,
    l3: int,
    mr: int,
    nr: int,
    elem_bytes: int = ...,
    k_align: int = ...,
    slice_depth: int = ...,
) -> dict[str, int | float]:
    """The blocking for these cache sizes (bytes; 0 = unknown) and register tile; mc and nc for slices slice_depth deep when > 0"""

def dropout(x: _F32, noise: _F32, p: float, out: _F32) -> None: ...

def flush_denormals() -> bool: ...

def force_bf16_matmul_engine(name: str) -> None:
    """For tests: bfloat16 GEMMs on this engine (amx, avx512_bf16, emulated) whatever the ISA path, '' for the best; ValueError if this CPU lacks it"""

def forward_backward(network: Network, x: _F32, labels: NDArray[np.int64]) -> float: ...

def gemm(
    a: _F32,
    b: _F32,
    out: _F32,
    trans_a: bool = ...,
    trans_b: bool = ...,
    alpha: float = ...,
    beta: float = ...,
) -> None: ...

def gemm_blocking() -> dict[str, int | float | str]:
    """The caches the GEMM sees (bytes; where they came from) and the register tile and cache blocking it uses under the active ISA path and matmul precision"""

def isa() -> str:
    """ISA of the kernels in use: avx512, avx2, generic (x86-64); neon, generic (aarch64)"""

def matmul_precision() -> str:
    """Precision of every float32 GEMM: float32 or bfloat16"""

def mse_loss(outputs: _F32, labels: NDArray[np.int64], grad: _F32) -> float: ...

def num_threads() -> int:
    """Threads a kernel may use (OpenMP's max threads; 1 when built without OpenMP)"""

def openmp() -> bool:
    """Whether the kernels were built with OpenMP (else they run on one thread)"""

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

def set_gemm_cache_sizes(l1d: int, l2: int, l3: int) -> None:
    """For tests: block GEMMs as if the caches had these sizes (all 0: the CPU's own)"""

def set_isa(name: str) -> None:
    """Use a lower ISA path (for testing); ValueError if the CPU lacks it"""

def set_matmul_precision(name: str) -> None:
    """float32, or bfloat16: GEMM operands rounded to bfloat16, sums in float32"""

def set_num_threads(n: int) -> None:
    """Set the threads a kernel may use (n >= 1; honoured as 1 when built without OpenMP)"""

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

