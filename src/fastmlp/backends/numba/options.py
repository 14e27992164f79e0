"""Compile options shared by every kernel of the numba backend."""

# cache=True: compiled machine code is kept next to the sources, so only the first run
# on a machine pays for compilation. fastmath stays off: kernels must round like the
# NumPy oracle (the GEMM's fused multiply-adds are explicit, see simd.py).
JIT = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")
