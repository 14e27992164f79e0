"""What fastmlp's kernels are compared with: NumPy's own matmul and PyTorch on the CPU.

Each reference runs a GEMM case's product on the case's own arrays (no copies: torch
tensors share the NumPy buffers), so it computes exactly what the backends compute.

PyTorch's bfloat16 reference (:func:`torch_bf16_matmul`, named ``PYTORCH_BF16``) is what a
torch user runs for a bfloat16 product of float32 data: ``torch.matmul`` of the float32
tensors inside ``torch.autocast("cpu", dtype=torch.bfloat16)``, so the casts of both
operands to bfloat16 (done by autocast on every call) are part of its time, and its result
is a new bfloat16 tensor (fastmlp's bfloat16 GEMMs write float32 into `out`).

:func:`torch_flush_denormal` switches PyTorch's FTZ/DAZ in every thread that computes,
as a script that calls ``torch.set_flush_denormal(True)`` at its start gets it.
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import os

import numpy as np

NUMPY_MATMUL = "NumPy matmul"
PYTORCH = "PyTorch"
PYTORCH_BF16 = "PyTorch bf16"
# one line for report headers: how the PyTorch bfloat16 rows were computed
TORCH_BF16_NOTE = ('torch.autocast("cpu", dtype=torch.bfloat16) around torch.matmul of the '
                   "float32 tensors (its casts to bfloat16 included; bfloat16 result)")


def numpy_matmul(case):
    a, b, out, trans_a, trans_b = case.gemm
    opa, opb = (a.T if trans_a else a), (b.T if trans_b else b)
    return lambda: np.matmul(opa, opb, out=out)


def _torch_operands(case, torch):
    a, b, out, trans_a, trans_b = case.gemm
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    return (ta.T if trans_a else ta), (tb.T if trans_b else tb), torch.from_numpy(out)


def torch_matmul(case, torch):
    opa, opb, tout = _torch_operands(case, torch)
    return lambda: torch.mm(opa, opb, out=tout)


def torch_bf16_matmul(case, torch):
    """torch.matmul of the case's float32 operands under bfloat16 autocast (see the module
    docstring): autocast casts both to bfloat16 on every call, the result is bfloat16."""
    opa, opb, _ = _torch_operands(case, torch)

    def run():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return torch.matmul(opa, opb)
    return run


def gemm_references(case, torch=None, matmul_precision="float32"):
    """(name, callable) for each reference that can run `case` (GEMM cases only).

    NumPy's matmul is always float32 (the baseline); PyTorch computes in
    `matmul_precision`: float32 ("PyTorch") or bfloat16 autocast ("PyTorch bf16").
    """
    if case.gemm is None:
        return []
    refs = [(NUMPY_MATMUL, numpy_matmul(case))]
    if torch is not None:
        if matmul_precision == "bfloat16":
            refs.append((PYTORCH_BF16, torch_bf16_matmul(case, torch)))
        else:
            refs.append((PYTORCH, torch_matmul(case, torch)))
    return refs


# -- PyTorch's denormal flushing ------------------------------------------------------------
def torch_flushed_fraction(torch, all_threads=True):
    """The share of a float32 denormal product PyTorch flushes to zero now: 1.0 when
    every thread that computed it flushes denormals, 0.0 when none does. all_threads=False
    asks the calling thread only (a one-element product runs there); True uses a product
    big enough to be split among the threads of its intra-op pool."""
    # at::parallel_for gives each thread at least 32768 elements (its grain size)
    n = max(2, torch.get_num_threads()) * 32768 if all_threads else 1
    # a float32 denormal (about 9.2e-41) made from its bits: converting 1e-40 would
    # already be flushed to zero in a flushing thread
    x = torch.from_numpy(np.full(n, 0x10000, dtype=np.uint32).view(np.float32))
    return float(((x * 1.0) == 0).float().mean())


_GOMP_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


def _openmp_runtimes():
    """The OpenMP runtimes this process has loaded (libgomp, or Intel's / LLVM's, which
    export the same GOMP_ entry points), torch's own copy first. torch's intra-op threads
    belong to one of them: the first libgomp.so.1 loaded serves every library asking for
    that name, so torch may well use the copy loaded for fastmlp._cpp, or the reverse."""
    import torch

    torch_dir = os.path.dirname(torch.__file__)
    paths = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                name = os.path.basename(path)
                if name.startswith(("libgomp", "libiomp5", "libomp")) and path not in paths:
                    paths.append(path)
    except OSError:  # not Linux: the dynamic linker finds it by name
        pass
    paths.sort(key=lambda path: not path.startswith(torch_dir))
    for path in paths + glob.glob(os.path.join(torch_dir, "lib", "libgomp*.so*")) + ["libgomp.so.1"]:
        try:
            lib = ctypes.CDLL(path)  # loaded already: dlopen returns that copy
            lib.GOMP_parallel.argtypes = [_GOMP_FN, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
            lib.GOMP_parallel.restype = None
        except (OSError, AttributeError):
            continue
        yield lib


def set_torch_flush_denormal(torch, on):
    """torch.set_flush_denormal(on) in this thread and in every thread of torch's OpenMP
    pool. torch.set_flush_denormal sets FTZ/DAZ in the calling thread's MXCSR only; new
    threads inherit it, so a script calling it first gets it everywhere, but a pool that
    already exists (as in a benchmark process) keeps its threads' old setting. Each pool
    thread therefore calls it too, in an OpenMP parallel region of the runtime the pool
    belongs to (see _openmp_runtimes). Returns whether every thread now has `on` (checked
    by a product split among them)."""
    on = bool(on)
    target = 1.0 if on else 0.0
    torch.set_flush_denormal(on)
    threads = torch.get_num_threads()
    reached = torch_flushed_fraction(torch) == target
    if reached or threads == 1:
        return reached
    callback = _GOMP_FN(lambda _: torch.set_flush_denormal(on))
    for lib in _openmp_runtimes():  # torch's runtime first; stop once its pool has it
        lib.GOMP_parallel(callback, None, threads, 0)
        if torch_flushed_fraction(torch) == target:
            return True
    return False


@contextlib.contextmanager
def torch_flush_denormal(torch, on=True):
    """PyTorch's denormal flushing `on` in every thread inside the block (see
    set_torch_flush_denormal), restored afterwards to what this thread had before. Yields
    whether the setting reached every thread."""
    before = torch_flushed_fraction(torch, all_threads=False) == 1.0
    try:
        yield set_torch_flush_denormal(torch, on)
    finally:
        set_torch_flush_denormal(torch, before)
