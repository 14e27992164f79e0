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

// One vector of a finished tile: dst = alpha * acc + beta * dst (dst not read when
// beta == 0), through the mask m when `partial`. Whole vectors use plain loads and stores:
// AMD cores run VMASKMOVPS stores as slow microcode, even with every lane set.
inline void store_scaled(float* dst, bool partial, __m256i m, __m256 acc, float alpha,
                         float beta, __m256 va, __m256 vb) {
  __m256 x = alpha == 1.0f ? acc : _mm256_mul_ps(va, acc);
  if (beta != 0.0f) {
    const __m256 old = partial ? _mm256_maskload_ps(dst, m) : _mm256_loadu_ps(dst);
    x = beta == 1.0f ? _mm256_add_ps(old, x) : _mm256_fmadd_ps(vb, old, x);
  }
  if (partial)
    _mm256_maskstore_ps(dst, m, x);
  else
    _mm256_storeu_ps(dst, x);
}

// C[R x (V vectors)] = alpha * A @ B + beta * C; `last` masks the columns of the last vector,
// which is whole unless `partial`. A is a packed panel (MR floats per k) or, !Packed, R rows
// of a row-major matrix with row stride lda, read in place: a product with few rows (or a
// narrow one, where each A panel meets few B panels) then skips packing A.
template <int R, int V, bool Packed>
void tile(i64 kc, const float* a, i64 lda, const float* b, float* c, i64 ldc, float alpha,
          float beta, __m256i last, bool partial) {
  const i64 row_step = Packed ? 1 : lda, k_step = Packed ? MR : 1;
  __m256 acc[R][V];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[r][v] = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (i64 p = 0; p < kc; ++p, a += k_step, b += NR) {
    __m256 bv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) bv[v] = _mm256_load_ps(b + 8 * v);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r * row_step);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v)
      store_scaled(c + r * ldc + 8 * v, v == V - 1 && partial, last, acc[r][v], alpha, beta,
                   va, vb);
  }
}

// 8 x 8 transpose in registers: out[j] lane i = in[i] lane j.
inline void transpose8(const __m256 in[8], __m256 out[8]) {
  __m256 t[8], u[8];
  for (int k = 0; k < 4; ++k) {
    t[2 * k] = _mm256_unpacklo_ps(in[2 * k], in[2 * k + 1]);
    t[2 * k + 1] = _mm256_unpackhi_ps(in[2 * k], in[2 * k + 1]);
  }
  for (int k = 0; k < 2; ++k) {  // u[4k + j]: rows 4k..4k+3 of columns j, j+4
    u[4 * k] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
    u[4 * k + 1] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0xEE);
    u[4 * k + 2] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
    u[4 * k + 3] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xEE);
  }
  for (int j = 0; j < 4; ++j) {
    out[j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x20);
    out[j + 4] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x31);
  }
}

// The rows x 8k block at src (row i at src + i * ld; rows <= 8, the rest read as zeros),
// transposed: out[q] holds k value q of every row.
inline void load_transposed(const float* src, i64 ld, int rows, __m256 out[8]) {
  __m256 in[8];
  for (int i = 0; i < 8; ++i) in[i] = i < rows ? _mm256_loadu_ps(src + i * ld) : _mm256_setzero_ps();
  transpose8(in, out);
}

static_assert(MR == 6 && NR == 16, "the packing below stores 4 + 2 floats per row, 2 x 8 per column");

// Row-major op(A) (k contiguous per row) into MR-row panels, 8 values of k per transpose;
// the depth's tail and a partial last panel go the portable way.
void pack_a(const float* a, i64 lda, bool trans, i64 rows, i64 depth, float* dst) {
  if (trans) return pack_a_portable<MR>(a, lda, trans, rows, depth, dst);
  const i64 whole = rows / MR * MR, body = depth / 8 * 8;
  for (i64 i0 = 0; i0 < whole; i0 += MR, dst += MR * depth) {
    const float* src = a + i0 * lda;
    for (i64 p0 = 0; p0 < body; p0 += 8) {
      __m256 col[8];
      load_transposed(src + p0, lda, MR, col);
      for (int q = 0; q < 8; ++q) {  // MR == 6 floats: 4 + 2, no masked store
        float* d = dst + (p0 + q) * MR;
        _mm_storeu_ps(d, _mm256_castps256_ps128(col[q]));
        _mm_storel_pi(reinterpret_cast<__m64*>(d + 4), _mm256_extractf128_ps(col[q], 1));
      }
    }
    for (i64 p = body; p < depth; ++p)
      for (int i = 0; i < MR; ++i) dst[p * MR + i] = src[i * lda + p];
  }
  if (whole < rows) pack_a_portable<MR>(a + whole * lda, lda, false, rows - whole, depth, dst);
}

// Transposed op(B) (k contiguous per column) into NR-column panels, two 8 x 8 transposes
// per 8 values of k; the depth's tail and a partial last panel go the portable way.
void pack_b(const float* b, i64 ldb, bool trans, i64 depth, i64 cols, float* dst) {
  if (!trans) return pack_b_portable<NR>(b, ldb, trans, depth, cols, dst);
  const i64 whole = cols / NR * NR, body = depth / 8 * 8;
  for (i64 j0 = 0; j0 < whole; j0 += NR, dst += NR * depth) {
    const float* src = b + j0 * ldb;
    for (i64 p0 = 0; p0 < body; p0 += 8) {
      __m256 lo[8], hi[8];
      load_transposed(src + p0, ldb, 8, lo);
      load_transposed(src + 8 * ldb + p0, ldb, 8, hi);
      for (int q = 0; q < 8; ++q) {
        _mm256_store_ps(dst + (p0 + q) * NR, lo[q]);
        _mm256_store_ps(dst + (p0 + q) * NR + 8, hi[q]);
      }
    }
    for (i64 p = body; p < depth; ++p)
      for (int j = 0; j < NR; ++j) dst[p * NR + j] = src[j * ldb + p];
  }
  if (whole < cols) pack_b_portable<NR>(b + whole * ldb, ldb, true, depth, cols - whole, dst);
}

using TileFn = void (*)(i64, const float*, i64, const float*, float*, i64, float, float,
                        __m256i, bool);

template <bool Packed, std::size_t... I>
constexpr std::array<TileFn, sizeof...(I)> tile_table(std::index_sequence<I...>) {
  return {{&tile<static_cast<int>(I / NV) + 1, static_cast<int>(I % NV) + 1, Packed>...}};
}
// kTiles<packed A>[(rows - 1) * NV + (vectors - 1)]
template <bool Packed>
constexpr auto kTiles = tile_table<Packed>(std::make_index_sequence<MR * NV>{});

template <bool Packed>
void run_tile(int rows, int cols, i64 kc, const float* a, i64 lda, const float* b, float* c,
              i64 ldc, float alpha, float beta) {
  const int vectors = (cols + 7) / 8;
  const int valid = cols - 8 * (vectors - 1);  // 1..8 columns in the last vector
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i last = _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), lane);
  kTiles<Packed>[(rows - 1) * NV + vectors - 1](kc, a, lda, b, c, ldc, alpha, beta, last,
                                                valid < 8);
}

void macro(const float* pa, const float* pb, i64 mc, i64 nc, i64 kc, float* c, i64 ldc,
           float alpha, float beta, const Epilogue* epi, i64 row0, i64 col0) {
  macro_kernel<MR, NR>(run_tile<true>, pa, kc, pb, kc, mc, nc, kc, c, ldc, alpha, beta, epi,
                       row0, col0);
}

void macro_rowmajor_a(const float* a, i64 lda, const float* pb, i64 mc, i64 nc, i64 kc, float* c,
                      i64 ldc, float alpha, float beta, const Epilogue* epi, i64 row0, i64 col0) {
  macro_kernel<MR, NR>(run_tile<false>, a, lda, pb, kc, mc, nc, kc, c, ldc, alpha, beta, epi,
                       row0, col0);
}

}  // namespace

const GemmKernels& gemm_kernels_avx2() {
  static const GemmKernels k = {MR, NR, /*elem_bytes=*/4,
                                pack_a, pack_b, macro, macro_rowmajor_a};
  return k;
}

}  // namespace fastmlp
