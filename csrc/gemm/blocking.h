// Cache blocking of the GEMM, derived at run time from the cache sizes the CPU reports
// (cpuid leaf 4 on Intel, 0x8000001D on AMD, Linux sysfs as fallback, portable defaults
// elsewhere), the way BLIS and OpenBLAS size their blocks, instead of per-ISA constants.
//
// The driver's loops (gemm.cpp): per nc-wide column block and kc-deep slice, op(B) is packed
// once into a kc x nc block; then op(A), mc rows at a time, and the macro-kernel keeps one
// mr x kc micro-panel of A in L1 while the nr-wide micro-panels of B stream past it from L2.
// Hence:
//   kc: the A micro-panel fills about half of L1 (the other half holds the B micro-panel
//       lines streaming by and the C tile);
//   nc: the packed B block (kc x nc) fills about half of L2;
//   mc: the packed A block (mc x kc) about a quarter of L2, so it is still there when the
//       macro-kernel reads it back (both for the depth of the slices actually used);
//   and the two thresholds: a row-major op(B) of up to 2/3 of L1 is read in place (thin
//   products: it stays in L1 unpacked), and a thread is woken only for a share of at least
//   a quarter as many multiply-adds as its L2 holds bytes (262,144 on a 1 MiB L2: a few
//   microseconds of work, against about one to wake it; a whole L2's worth kept thin
//   10-unit products on one thread at 0.5-0.7x NumPy's two).
// The blocking depends only on the cache sizes and the microkernel, never on the thread
// count, so results stay bitwise independent of it. kc sets the order of the float32 sums,
// so results may differ in the last bits between machines with different L1 sizes.
#pragma once
#include <cstdint>

namespace fastmlp {

struct CacheSizes {
  std::int64_t l1d = 0, l2 = 0, l3 = 0;  // bytes per core's cache (l3: the whole cache)
  int l3_sharing = 1;                    // logical CPUs sharing the L3
  const char* source = "defaults";       // cpuid, sysfs, defaults, or override
};

struct GemmBlocking {
  std::int64_t mc = 0, kc = 0, nc = 0;
  std::int64_t in_place_b_bytes = 0;  // a row-major op(B) up to this size is read in place
  double macs_per_thread = 0;         // threads get at least this many multiply-adds each
};

// The caches of this CPU (detected once), or those set by set_cache_sizes_override.
CacheSizes cache_sizes();
// For tests: GEMMs block as if the CPU had these caches (a zero size counts as unknown;
// all zero: back to the detected caches). Not while a GEMM runs.
void set_cache_sizes_override(std::int64_t l1d, std::int64_t l2, std::int64_t l3);

// The blocking for a microkernel with an mr x nr register tile whose packed panels hold
// elem_bytes per element and depth in multiples of k_align. Unknown (zero or negative)
// sizes are replaced by portable defaults; any sizes give a usable blocking.
// slice_depth > 0: the depth of the kc slices a product actually uses (at most kc; thin-K
// products use less), for which mc and nc are sized - a shallower block holds more rows and
// columns in the same cache. Only kc orders the sums; mc and nc never change a result.
GemmBlocking derive_blocking(const CacheSizes& caches, int mr, int nr, int elem_bytes,
                             int k_align, std::int64_t slice_depth = 0);

}  // namespace fastmlp
