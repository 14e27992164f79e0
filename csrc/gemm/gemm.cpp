#include "gemm/gemm.h"

#include <algorithm>
#include <limits>

#include "gemm/bfloat16.h"
#include "gemm/blocking.h"
#include "gemm/pack_buffer.h"
#include "runtime/isa.h"

namespace fastmlp {
namespace {

// Packing one element costs about as much as this many multiply-adds (for choosing splits).
constexpr double kPackCost = 8.0;

// Up to this many rows, a row-major op(A) is read in place rather than packed.
constexpr i64 kInPlaceRows = 256;

thread_local PackBuffer t_packed_a, t_packed_b;

i64 ceil_div(i64 a, i64 b) { return (a + b - 1) / b; }

struct Block {
  i64 m0, m1, n0, n1;
};

// Thread `id`'s block of C when `threads` threads split it on a tm x tn grid; the grid
// minimizes the slowest thread's tile-padded multiply-adds plus its packing.
Block thread_block(const GemmProblem& p, const GemmKernels& kr, int threads, int id) {
  int best_tm = 1;
  double best = std::numeric_limits<double>::infinity();
  for (int tm = 1; tm <= threads; ++tm) {
    if (threads % tm) continue;
    const double rows = static_cast<double>(ceil_div(ceil_div(p.m, kr.mr), tm) * kr.mr);
    const double cols = static_cast<double>(ceil_div(ceil_div(p.n, kr.nr), threads / tm) * kr.nr);
    const double cost = (rows * cols + kPackCost * (rows + cols)) * static_cast<double>(p.k);
    if (cost < best) best = cost, best_tm = tm;
  }
  const int tn = threads / best_tm;
  const Range r = split(p.m, best_tm, id / tn, kr.mr), c = split(p.n, tn, id % tn, kr.nr);
  return {r.begin, r.end, c.begin, c.end};
}

// k == 0: C = beta * C (0 when beta == 0, without reading C), then the epilogue.
void scale_block(const GemmProblem& p, const Block& blk, const Epilogue* epi) {
  for (i64 i = blk.m0; i < blk.m1; ++i) {
    float* row = p.c + i * p.ldc;
    for (i64 j = blk.n0; j < blk.n1; ++j) row[j] = p.beta == 0.0f ? 0.0f : p.beta * row[j];
  }
  if (epi) epi->apply(blk.m0, blk.n0, blk.m1 - blk.m0, blk.n1 - blk.n0);
}

// The GotoBLAS loops over one block of C: for each nc-wide column block and kc-deep slice
// pack op(B) once (kept in L2), then pack op(A) mc rows at a time (or read it in place)
// and run the macro-kernel, all in blocks sized from the caches (gemm/blocking.h). With
// `round_bf16` the packed float32 panels are rounded to bfloat16 values (the emulated
// bfloat16 engine).
void gemm_block(const GemmProblem& p, const GemmKernels& kr, const Ops& ops, const Block& blk,
                bool round_bf16) {
  const CacheSizes caches = cache_sizes();
  GemmBlocking bs = derive_blocking(caches, kr.mr, kr.nr, kr.elem_bytes, kr.k_align);
  if (blk.m0 >= blk.m1 || blk.n0 >= blk.n1) return;
  Epilogue epi = p.epilogue;
  epi.c = p.c;
  epi.ldc = p.ldc;
  epi.ops = &ops;
  const Epilogue* final_epi = epi.kind == Epilogue::Kind::none ? nullptr : &epi;
  if (p.k == 0) return scale_block(p, blk, final_epi);

  // Equal kc slices (fixed by k alone, so every thread sums in the same order), whole
  // multiples of k_align but the last, so no more than one slice is padded.
  const i64 kc =
      std::min(bs.kc, ceil_div(ceil_div(p.k, ceil_div(p.k, bs.kc)), kr.k_align) * kr.k_align);
  bs = derive_blocking(caches, kr.mr, kr.nr, kr.elem_bytes, kr.k_align, kc);
  const i64 mc_max = std::min(bs.mc, blk.m1 - blk.m0);
  const i64 nc_max = std::min(bs.nc, blk.n1 - blk.n0);
  // A row-major op(B) is read in place when packing it cannot pay off: a single row panel
  // reads each element once, and a B well inside L1 stays there unpacked (thin products).
  const bool read_b_in_place =
      kr.macro_rowmajor_b && !p.trans_b && !round_bf16 &&
      (blk.m1 - blk.m0 <= kr.mr ||
       p.k * (blk.n1 - blk.n0) * static_cast<i64>(sizeof(float)) <= bs.in_place_b_bytes);
  // Otherwise few rows of a row-major A are cheaper to read in place than to transpose
  // into panels (the packing would cost as much as a good part of the product). A
  // transposed A is always packed: read in place it would take a new line every k step,
  // lda apart (often 4 KiB for power-of-two layers, so all of them in one L1 set).
  const bool read_a_in_place = kr.macro_rowmajor_a && !p.trans_a && !round_bf16 &&
                               !read_b_in_place && blk.m1 - blk.m0 <= kInPlaceRows;
  const i64 kc_packed = ceil_div(kc, kr.k_align) * kr.k_align;
  float* pa = read_a_in_place ? nullptr
                              : t_packed_a.get(static_cast<std::size_t>(
                                    ceil_div(mc_max, kr.mr) * kr.mr * kc_packed));
  float* pb = read_b_in_place ? nullptr
                              : t_packed_b.get(static_cast<std::size_t>(
                                    ceil_div(nc_max, kr.nr) * kr.nr * kc_packed));

  for (i64 jc = blk.n0; jc < blk.n1; jc += bs.nc) {
    const i64 nc = std::min(bs.nc, blk.n1 - jc);
    for (i64 pc = 0; pc < p.k; pc += kc) {
      const i64 depth = std::min(kc, p.k - pc);
      const float* b = p.trans_b ? p.b + jc * p.ldb + pc : p.b + pc * p.ldb + jc;
      if (!read_b_in_place) {
        kr.pack_b(b, p.ldb, p.trans_b, depth, nc, pb);
        if (round_bf16) round_to_bfloat16(pb, ceil_div(nc, kr.nr) * kr.nr * depth);
      }
      const float beta = pc == 0 ? p.beta : 1.0f;  // later slices accumulate onto C
      const Epilogue* e = pc + depth == p.k ? final_epi : nullptr;
      for (i64 ic = blk.m0; ic < blk.m1; ic += bs.mc) {
        const i64 mc = std::min(bs.mc, blk.m1 - ic);
        const float* a = p.trans_a ? p.a + pc * p.lda + ic : p.a + ic * p.lda + pc;
        float* c = p.c + ic * p.ldc + jc;
        if (read_a_in_place) {
          kr.macro_rowmajor_a(a, p.lda, pb, mc, nc, depth, c, p.ldc, p.alpha, beta, e, ic, jc);
        } else {
          kr.pack_a(a, p.lda, p.trans_a, mc, depth, pa);
          if (round_bf16) round_to_bfloat16(pa, ceil_div(mc, kr.mr) * kr.mr * depth);
          if (read_b_in_place)
            kr.macro_rowmajor_b(pa, b, p.ldb, mc, nc, depth, c, p.ldc, p.alpha, beta, e, ic, jc);
          else
            kr.macro(pa, pb, mc, nc, depth, c, p.ldc, p.alpha, beta, e, ic, jc);
        }
      }
    }
  }
}

}  // namespace

GemmPlan gemm_plan() {
  const GemmKernels& kr = active_gemm_path().kernels;
  GemmPlan plan;
  plan.caches = cache_sizes();
  plan.blocking = derive_blocking(plan.caches, kr.mr, kr.nr, kr.elem_bytes, kr.k_align);
  plan.mr = kr.mr;
  plan.nr = kr.nr;
  return plan;
}

double gemm_macs_per_thread() {  // set by the L2 alone: any tile gives the same value
  return derive_blocking(cache_sizes(), 1, 1, 4, 1).macs_per_thread;
}

int gemm_threads(i64 m, i64 n, i64 k, int limit) {
  const double macs = static_cast<double>(m) * static_cast<double>(n) *
                      static_cast<double>(std::max<i64>(k, 1));
  return threads_for(macs, gemm_macs_per_thread(), limit);
}

void gemm(const GemmProblem& p, const Team& team, int first) {
  const GemmPath path = active_gemm_path();
  const int used = gemm_threads(p.m, p.n, p.k, team.size);
  const int rank = team.rank(used, first);
  if (rank >= 0)
    gemm_block(p, path.kernels, path.ops, thread_block(p, path.kernels, used, rank),
               path.round_bf16);
}

void gemm(const GemmProblem& p) {
  run_team(gemm_threads(p.m, p.n, p.k, num_threads()), [&](const Team& team) { gemm(p, team); });
}

}  // namespace fastmlp
