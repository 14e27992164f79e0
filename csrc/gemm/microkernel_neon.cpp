// aarch64 GEMM microkernel: an 8 x 12 tile of C in 24 NEON registers (8 rows x 3 vectors of
// 4 floats). Per k step it loads 8 floats of A (2 vectors) and 12 of B (3 vectors) and does
// 24 fused multiply-adds, each broadcasting one lane of A (vfmaq_laneq_f32); 29 of the 32
// vector registers are in use. NEON is baseline on aarch64, so no special flags. Edge
// tiles compute the zero-padded full tile and store only the valid part.
#include <arm_neon.h>

#include <cstdint>

#include "gemm/macro_kernel.h"
#include "gemm/microkernel.h"
#include "gemm/pack.h"

namespace fastmlp {
namespace {

using i64 = std::int64_t;
constexpr int MR = 8, NR = 12;

// x = alpha * acc, then + beta * dst unless beta == 0 (dst not read): the oracle's order.
inline float32x4_t scale(float32x4_t acc, float alpha) {
  return alpha == 1.0f ? acc : vmulq_n_f32(acc, alpha);
}
inline float32x4_t with_beta(float32x4_t x, const float* dst, float beta) {
  if (beta == 1.0f) return vaddq_f32(vld1q_f32(dst), x);
  if (beta != 0.0f) return vaddq_f32(vmulq_n_f32(vld1q_f32(dst), beta), x);
  return x;
}

// One row of the tile: acc += B's 12 floats times lane Lane of a.
template <int Lane>
inline void fma_row(float32x4_t (&acc)[3], float32x4_t a, float32x4_t b0, float32x4_t b1,
                    float32x4_t b2) {
  acc[0] = vfmaq_laneq_f32(acc[0], b0, a, Lane);
  acc[1] = vfmaq_laneq_f32(acc[1], b1, a, Lane);
  acc[2] = vfmaq_laneq_f32(acc[2], b2, a, Lane);
}

void run_tile(int rows, int cols, i64 kc, const float* a, i64 /*lda: packed*/, const float* b,
              float* c, i64 ldc, float alpha, float beta) {
  float32x4_t acc[MR][3];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = acc[r][2] = vdupq_n_f32(0.0f);
  for (i64 p = 0; p < kc; ++p, a += MR, b += NR) {
    const float32x4_t a_lo = vld1q_f32(a), a_hi = vld1q_f32(a + 4);
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
    fma_row<0>(acc[0], a_lo, b0, b1, b2);
    fma_row<1>(acc[1], a_lo, b0, b1, b2);
    fma_row<2>(acc[2], a_lo, b0, b1, b2);
    fma_row<3>(acc[3], a_lo, b0, b1, b2);
    fma_row<0>(acc[4], a_hi, b0, b1, b2);
    fma_row<1>(acc[5], a_hi, b0, b1, b2);
    fma_row<2>(acc[6], a_hi, b0, b1, b2);
    fma_row<3>(acc[7], a_hi, b0, b1, b2);
  }
  if (rows == MR && cols == NR) {
    for (int r = 0; r < MR; ++r)
      for (int v = 0; v < 3; ++v) {
        float* dst = c + r * ldc + 4 * v;
        vst1q_f32(dst, with_beta(scale(acc[r][v], alpha), dst, beta));
      }
    return;
  }
  float tile[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < 3; ++v) vst1q_f32(&tile[r][4 * v], acc[r][v]);
  store_tile_scalar(&tile[0][0], NR, rows, cols, c, ldc, alpha, beta);
}

void macro(const float* pa, const float* pb, i64 mc, i64 nc, i64 kc, float* c, i64 ldc,
           float alpha, float beta, const Epilogue* epi, i64 row0, i64 col0) {
  macro_kernel<MR, NR>(run_tile, pa, kc, pb, kc, mc, nc, kc, c, ldc, alpha, beta, epi, row0,
                       col0);
}

}  // namespace

// Block sizes come from the CPU's caches at run time (gemm/blocking.cpp), as on x86.
const GemmKernels& gemm_kernels_neon() {
  static const GemmKernels k = {MR, NR, /*elem_bytes=*/4,
                                pack_a_portable<MR>, pack_b_portable<NR>, macro,
                                /*macro_rowmajor_a=*/nullptr};
  return k;
}

}  // namespace fastmlp
