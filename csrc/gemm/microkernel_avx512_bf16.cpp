// bfloat16 GEMM with AVX512-BF16's VDPBF16PS, for matmul precision "bfloat16" on CPUs that
// have it but no AMX tiles (AMD Zen 4 and later, Intel Cooper Lake). op(A) and op(B) are
// rounded to bfloat16 while they are packed (bf16_convert.h); each VDPBF16PS adds, per
// float32 lane, the exact products of a pair of k values (k odd, then k even) to the sum.
// The register tile is the float32 kernel's 12 x 32 in 24 zmm accumulators, but one k step
// covers two values of k, with half the bytes of A and B to load.
//
// Packed layouts, by pairs of k (depth zero-padded to even; rows and columns zero-padded to
// whole panels):
//   A panel, MR rows: per pair q, MR dwords; dword r = bf16(A(r, 2q)) | bf16(A(r, 2q+1)) << 16
//   B panel, NR columns: per pair q, NR dwords; dword j = bf16(B(2q, j)) | bf16(B(2q+1, j)) << 16
#include <immintrin.h>

#include <array>
#include <cstdint>
#include <utility>

#include "gemm/avx512_util.h"
#include "gemm/bf16_convert.h"
#include "gemm/macro_kernel.h"
#include "gemm/microkernel.h"

namespace fastmlp {
namespace {

using i64 = std::int64_t;
using u32 = std::uint32_t;
constexpr int MR = 12, NR = 32, NV = NR / 16;

i64 pairs(i64 depth) { return (depth + 1) / 2; }

__m512bh as_bf16(__m512i x) { return reinterpret_cast<__m512bh>(x); }

// C[R x (V vectors)] = alpha * A @ B + beta * C over np pairs of k; `last` masks the
// columns of the last vector.
template <int R, int V>
void tile(i64 np, const u32* a, const u32* b, float* c, i64 ldc, float alpha, float beta,
          __mmask16 last) {
  __m512 acc[R][V];
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
  for (i64 q = 0; q < np; ++q, a += MR, b += NR) {
    __m512bh bv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) bv[v] = as_bf16(_mm512_load_si512(b + 16 * v));
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r) {
      const __m512bh av = as_bf16(_mm512_set1_epi32(static_cast<int>(a[r])));
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], av, bv[v]);
    }
  }
  store_tile(c, ldc, acc, last, alpha, beta);
}

// Transposes 16 rows of 32 floats each (row s at rows[s]: 16 pairs of k, as bf16 dwords) so
// that pair q of all 16 rows lands at dst + q * stride, for the first `np` pairs, storing
// the lanes in `keep`.
void store_pairs_transposed(const __m512i rows[16], i64 np, u32* dst, i64 stride,
                            __mmask16 keep) {
  __m512 in[16], out[16];
  for (int s = 0; s < 16; ++s) in[s] = _mm512_castsi512_ps(rows[s]);
  transpose16(in, out);
  for (i64 q = 0; q < np; ++q)
    _mm512_mask_storeu_epi32(dst + q * stride, keep, _mm512_castps_si512(out[q]));
}

// `count` rows (op(A)) or columns (op(B)) at 16 per call, whose k values are contiguous
// (element (i, p) at src[i * ld + p]): per 32-deep chunk, each row's 16 pairs, transposed
// so that pair q of the 16 rows is 16 dwords at dst + q * stride (lanes `keep` stored).
void pack_contiguous_k(const float* src, i64 ld, i64 count, i64 depth, u32* dst, i64 stride,
                       __mmask16 keep) {
  for (i64 p0 = 0; p0 < depth; p0 += 32) {
    __m512i rows[16];
    for (int s = 0; s < 16; ++s)
      rows[s] = s < count ? row_to_bf16(src + s * ld + p0, depth - p0) : _mm512_setzero_si512();
    const i64 np = pairs(depth - p0) < 16 ? pairs(depth - p0) : 16;
    store_pairs_transposed(rows, np, dst + p0 / 2 * stride, stride, keep);
  }
}

// `count` (<= 16) rows or columns whose index is contiguous (element (i, p) at
// src[p * ld + i]): pair q is rows 2q and 2q+1 of src interleaved, stored at dst + q * stride.
void pack_contiguous_index(const float* src, i64 ld, i64 count, i64 depth, u32* dst, i64 stride,
                           __mmask16 keep) {
  const __mmask16 valid = first_lanes(count);
  for (i64 q = 0, np = pairs(depth); q < np; ++q) {
    const i64 p = 2 * q;
    _mm512_mask_storeu_epi32(dst + q * stride, keep,
                             pair_rows(src + p * ld, p + 1 < depth ? src + (p + 1) * ld : nullptr,
                                       valid));
  }
}

void pack_a(const float* a, i64 lda, bool trans, i64 rows, i64 depth, float* dst_floats) {
  static_assert(MR <= 16, "one transpose covers a panel");
  u32* dst = reinterpret_cast<u32*>(dst_floats);
  const __mmask16 panel = first_lanes(MR);
  for (i64 i0 = 0; i0 < rows; i0 += MR, dst += MR * pairs(depth)) {
    const i64 r = rows - i0 < MR ? rows - i0 : MR;  // rows past r become zeros
    if (trans)
      pack_contiguous_index(a + i0, lda, r, depth, dst, MR, panel);
    else
      pack_contiguous_k(a + i0 * lda, lda, r, depth, dst, MR, panel);
  }
}

void pack_b(const float* b, i64 ldb, bool trans, i64 depth, i64 cols, float* dst_floats) {
  u32* dst = reinterpret_cast<u32*>(dst_floats);
  const __mmask16 all = first_lanes(16);
  for (i64 j0 = 0; j0 < cols; j0 += NR, dst += NR * pairs(depth)) {
    for (int v = 0; v < NV; ++v) {
      const i64 j = j0 + 16 * v, n = cols - j < 0 ? 0 : cols - j < 16 ? cols - j : 16;
      if (trans)  // column j's k values are contiguous
        pack_contiguous_k(b + j * ldb, ldb, n, depth, dst + 16 * v, NR, all);
      else
        pack_contiguous_index(b + j, ldb, n, depth, dst + 16 * v, NR, all);
    }
  }
}

using TileFn = void (*)(i64, const u32*, const u32*, float*, i64, float, float, __mmask16);

template <std::size_t... I>
constexpr std::array<TileFn, sizeof...(I)> tile_table(std::index_sequence<I...>) {
  return {{&tile<static_cast<int>(I / NV) + 1, static_cast<int>(I % NV) + 1>...}};
}
// kTiles[(rows - 1) * NV + (vectors - 1)]
constexpr auto kTiles = tile_table(std::make_index_sequence<MR * NV>{});

void run_tile(int rows, int cols, i64 depth, const float* a, i64 /*lda: packed*/, const float* b,
              float* c, i64 ldc, float alpha, float beta) {
  const int vectors = (cols + 15) / 16;
  const __mmask16 last = static_cast<__mmask16>(0xFFFFu >> (16 * vectors - cols));
  kTiles[(rows - 1) * NV + vectors - 1](pairs(depth), reinterpret_cast<const u32*>(a),
                                        reinterpret_cast<const u32*>(b), c, ldc, alpha, beta,
                                        last);
}

void macro(const float* pa, const float* pb, i64 mc, i64 nc, i64 depth, float* c, i64 ldc,
           float alpha, float beta, const Epilogue* epi, i64 row0, i64 col0) {
  // a panel of MR rows (NR columns) is MR (NR) dwords per pair of k: pairs(depth) "floats"
  // per row (column) apart
  macro_kernel<MR, NR>(run_tile, pa, pairs(depth), pb, pairs(depth), mc, nc, depth, c, ldc,
                       alpha, beta, epi, row0, col0);
}

}  // namespace

const GemmKernels& gemm_kernels_avx512_bf16() {
  static const GemmKernels k = {MR, NR, /*elem_bytes=*/2,
                                pack_a, pack_b, macro, /*macro_rowmajor_a=*/nullptr,
                                /*k_align=*/2};
  return k;
}

}  // namespace fastmlp
