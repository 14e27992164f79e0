"""The numba GEMM's cache blocking, derived at run time from the cache sizes the CPU
reports (Linux sysfs; portable defaults elsewhere), by the cpp backend's rule
(csrc/gemm/blocking.h), the way BLIS and OpenBLAS size their blocks:

- kc: the MR x kc micro-panel of op(a) fills about half of L1 (the other half holds the
  lines of the op(b) micro-panels streaming by, and the C tile); a multiple of 32, 32..512;
- nc: the packed kc x nc block of op(b) about half of L2; mc: the packed mc x kc block of
  op(a) about a quarter of L2 (both for the depth of the slices a product actually uses);
- a row-major op(b) of up to 2/3 of L1 is read in place, and a thread is woken only for
  a share of at least a quarter as many multiply-adds as its L2 holds bytes (a few
  microseconds of work, against about one to wake it).

The caches are kernel arguments, not globals: cached machine code would freeze a global.
Only kc orders the float32 sums, and it depends on the cache sizes and k alone, never on
the thread count, so results stay bitwise independent of it.
"""
from __future__ import annotations

from numba import njit

from ..cpu_caches import cache_sizes
from .options import JIT

DEFAULT_L1D = 32 << 10   # a modest core's, for caches nothing reports
DEFAULT_L2 = 256 << 10
_MAX_KC, _MAX_MC, _MAX_NC = 512, 1024, 4096  # beyond these a block only grows the buffers
_KC_UNIT = 32                                 # kc in whole cache lines of a packed row


def detected_caches():
    """(L1d bytes, L2 bytes) of this CPU, 0 for a size it does not report (the rule then
    uses the defaults): the `caches` argument of the GEMM kernels."""
    sizes = cache_sizes()
    return (int(sizes.get("L1d", 0)), int(sizes.get("L2", 0)))


def describe(caches, mr, nr):
    """The caches and the blocking they give, as lines for `fastmlp backends`."""
    def kib(n):
        return f"{n >> 10} KiB" if n > 0 else "unknown (default used)"
    kc = max_depth(caches, mr)
    mc, nc = block_sizes(caches, mr, nr, kc)
    return [f"gemm caches (sysfs): L1d {kib(caches[0])}, L2 {kib(caches[1])}",
            f"gemm blocking (float32): tile {mr}x{nr}, mc={mc} kc={kc} nc={nc}, row-major B "
            f"read in place up to {in_place_b_bytes(caches) >> 10} KiB, >= "
            f"{macs_per_thread(caches)} multiply-adds per thread"]


@njit(**JIT)
def _clamp(x, low, high):
    return max(low, min(x, high))


@njit(**JIT)
def max_depth(caches, mr):
    """kc: the deepest k slice (see the module docstring)."""
    l1 = caches[0] if caches[0] > 0 else DEFAULT_L1D
    return _clamp(l1 // 2 // (mr * 4) // _KC_UNIT * _KC_UNIT, _KC_UNIT, _MAX_KC)


@njit(**JIT)
def slice_depth(k, caches, mr):
    """The depth of the k slices of a product with inner dimension k: equal slices of at
    most kc (so no more than one is short), fixed by k and the caches alone; 1 for k == 0
    (one empty slice, which still writes beta * C and the epilogue)."""
    kc = max_depth(caches, mr)
    slices = max(1, (k + kc - 1) // kc)
    return max(1, min(kc, (k + slices - 1) // slices))


@njit(**JIT)
def block_sizes(caches, mr, nr, depth):
    """(mc, nc): the rows of op(a) and the columns of op(b) packed at a time, for slices
    `depth` deep (a thin-k product gets wider blocks from the same caches)."""
    l2 = caches[1] if caches[1] > 0 else DEFAULT_L2
    depth = max(depth, 1)
    nc = _clamp(l2 // 2 // (depth * 4) // nr * nr, nr, _MAX_NC // nr * nr)
    mc = _clamp(l2 // 4 // (depth * 4) // mr * mr, mr, _MAX_MC // mr * mr)
    return mc, nc


@njit(**JIT)
def in_place_b_bytes(caches):
    """A row-major op(b) up to this size is read in place (it stays in L1 unpacked)."""
    l1 = caches[0] if caches[0] > 0 else DEFAULT_L1D
    return l1 * 2 // 3


@njit(**JIT)
def macs_per_thread(caches):
    """A thread is woken for at least this many multiply-adds."""
    l2 = caches[1] if caches[1] > 0 else DEFAULT_L2
    return _clamp(l2 // 4, 1 << 16, 1 << 24)
