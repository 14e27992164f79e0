// Portable GEMM microkernel for CPUs without AVX2: a 4 x 16 tile of C in plain C++ that
// the compiler keeps in (SSE2) registers. Edge tiles compute the zero-padded full tile and
// store only the valid part.
#include <array>
#include <cstdint>

#include "gemm/macro_kernel.h"
#include "gemm/microkernel.h"
#include "gemm/pack.h"

namespace fastmlp {
namespace {

using i64 = std::int64_t;
constexpr int MR = 4, NR = 16;

void run_tile(int rows, int cols, i64 kc, const float* a, i64 /*lda: packed*/, const float* b,
              float* c, i64 ldc, float alpha, float beta) {
  float acc[MR][NR] = {};
  for (i64 p = 0; p < kc; ++p, a += MR, b += NR)
    for (int r = 0; r < MR; ++r)
      for (int j = 0; j < NR; ++j) acc[r][j] += a[r] * b[j];
  store_tile_scalar(&acc[0][0], NR, rows, cols, c, ldc, alpha, beta);
}

void macro(const float* pa, const float* pb, i64 mc, i64 nc, i64 kc, float* c, i64 ldc,
           float alpha, float beta, const Epilogue* epi, i64 row0, i64 col0) {
  macro_kernel<MR, NR>(run_tile, pa, kc, pb, kc, mc, nc, kc, c, ldc, alpha, beta, epi, row0,
                       col0);
}

}  // namespace

const GemmKernels& gemm_kernels_generic() {
  static const GemmKernels k = {MR, NR, /*elem_bytes=*/4,
                                pack_a_portable<MR>, pack_b_portable<NR>, macro,
                                /*macro_rowmajor_a=*/nullptr};
  return k;
}

}  // namespace fastmlp
