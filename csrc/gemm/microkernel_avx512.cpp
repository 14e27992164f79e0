// AVX-512 GEMM microkernel: a 12 x 32 tile of C in 24 zmm accumulators; each k step
// loads two vectors of B and broadcasts 12 values of A (2 loads + 12 broadcasts per
// 24 FMAs keeps both FMA ports busy). Smaller tiles at the edges are separate
// instantiations with the same arithmetic, so no result depends on where a tile falls.
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
constexpr int MR = 12, NR = 32, NV = NR / 16;

// C[R x (V vectors)] = alpha * A @ B + beta * C; `last` masks the columns of the last vector.
template <int R, int V>
void tile(i64 kc, const float* a, const float* b, float* c, i64 ldc, float alpha, float beta,
          __mmask16 last) {
  __m512 acc[R][V];
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
  for (i64 p = 0; p < kc; ++p, a += MR, b += NR) {
    __m512 bv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) bv[v] = _mm512_load_ps(b + 16 * v);
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(a[r]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      const __mmask16 m = v == V - 1 ? last : static_cast<__mmask16>(0xFFFF);
      float* dst = c + r * ldc + 16 * v;
      __m512 x = alpha == 1.0f ? acc[r][v] : _mm512_mul_ps(va, acc[r][v]);
      if (beta == 1.0f)
        x = _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst), x);
      else if (beta != 0.0f)
        x = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, dst), x);
      _mm512_mask_storeu_ps(dst, m, x);
    }
  }
}

using TileFn = void (*)(i64, const float*, const float*, float*, i64, float, float, __mmask16);

template <std::size_t... I>
constexpr std::array<TileFn, sizeof...(I)> tile_table(std::index_sequence<I...>) {
  return {{&tile<static_cast<int>(I / NV) + 1, static_cast<int>(I % NV) + 1>...}};
}
// kTiles[(rows - 1) * NV + (vectors - 1)]
constexpr auto kTiles = tile_table(std::make_index_sequence<MR * NV>{});

void run_tile(int rows, int cols, i64 kc, const float* a, const float* b, float* c, i64 ldc,
              float alpha, float beta) {
  const int vectors = (cols + 15) / 16;
  const __mmask16 last = static_cast<__mmask16>(0xFFFFu >> (16 * vectors - cols));
  kTiles[(rows - 1) * NV + vectors - 1](kc, a, b, c, ldc, alpha, beta, last);
}

void macro(const float* pa, const float* pb, i64 mc, i64 nc, i64 kc, float* c, i64 ldc,
           float alpha, float beta, const Epilogue* epi, i64 row0, i64 col0) {
  macro_kernel<MR, NR>(run_tile, pa, pb, mc, nc, kc, c, ldc, alpha, beta, epi, row0, col0);
}

}  // namespace

const GemmKernels& gemm_kernels_avx512() {
  static const GemmKernels k = {MR, NR, /*mc=*/192, /*kc=*/384, /*nc=*/768,
                                pack_a_portable<MR>, pack_b_portable<NR>, macro};
  return k;
}

}  // namespace fastmlp
