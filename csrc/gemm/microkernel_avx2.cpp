// AVX2+FMA GEMM microkernel: a 6 x 16 tile of C in 12 ymm accumulators (BLIS's Haswell
// shape); each k step loads two vectors of B and broadcasts 6 values of A. Edge tiles
// are separate instantiations with the same arithmetic.
#include <immintrin.h>

#include <array>
#include <cstdint>
#include <utility>

#include "gemm/macro_kernel.h"
#include "gemm/microkernel.h"
#include "gemm/pack.h"

namespace fastmlp {
namespace {

using i64 = std::int64_t;
constexpr int MR = 6, NR = 16, NV = NR / 8;

// C[R x (V vectors)] = alpha * A @ B + beta * C; `last` masks the columns of the last vector.
template <int R, int V>
void tile(i64 kc, const float* a, const float* b, float* c, i64 ldc, float alpha, float beta,
          __m256i last) {
  __m256 acc[R][V];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[r][v] = _mm256_setzero_ps();
  for (i64 p = 0; p < kc; ++p, a += MR, b += NR) {
    __m256 bv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) bv[v] = _mm256_load_ps(b + 8 * v);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  const __m256i all = _mm256_set1_epi32(-1);
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      const __m256i m = v == V - 1 ? last : all;
      float* dst = c + r * ldc + 8 * v;
      __m256 x = alpha == 1.0f ? acc[r][v] : _mm256_mul_ps(va, acc[r][v]);
      if (beta == 1.0f)
        x = _mm256_add_ps(_mm256_maskload_ps(dst, m), x);
      else if (beta != 0.0f)
        x = _mm256_fmadd_ps(vb, _mm256_maskload_ps(dst, m), x);
      _mm256_maskstore_ps(dst, m, x);
    }
  }
}

using TileFn = void (*)(i64, const float*, const float*, float*, i64, float, float, __m256i);

template <std::size_t... I>
constexpr std::array<TileFn, sizeof...(I)> tile_table(std::index_sequence<I...>) {
  return {{&tile<static_cast<int>(I / NV) + 1, static_cast<int>(I % NV) + 1>...}};
}
// kTiles[(rows - 1) * NV + (vectors - 1)]
constexpr auto kTiles = tile_table(std::make_index_sequence<MR * NV>{});

void run_tile(int rows, int cols, i64 kc, const float* a, i64 /*lda: packed*/, const float* b,
              float* c, i64 ldc, float alpha, float beta) {
  const int vectors = (cols + 7) / 8;
  const int valid = cols - 8 * (vectors - 1);  // 1..8 columns in the last vector
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i last = _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), lane);
  kTiles[(rows - 1) * NV + vectors - 1](kc, a, b, c, ldc, alpha, beta, last);
}

void macro(const float* pa, const float* pb, i64 mc, i64 nc, i64 kc, float* c, i64 ldc,
           float alpha, float beta, const Epilogue* epi, i64 row0, i64 col0) {
  macro_kernel<MR, NR>(run_tile, pa, kc, pb, kc, mc, nc, kc, c, ldc, alpha, beta, epi, row0,
                       col0);
}

}  // namespace

const GemmKernels& gemm_kernels_avx2() {
  static const GemmKernels k = {MR, NR, /*elem_bytes=*/4,
                                pack_a_portable<MR>, pack_b_portable<NR>, macro,
                                /*macro_rowmajor_a=*/nullptr};
  return k;
}

}  // namespace fastmlp
