// AVX-512 GEMM microkernel: a 12 x 32 tile of C in 24 zmm accumulators; each k step
// loads two vectors of B and broadcasts 12 values of A (2 loads + 12 broadcasts per
// 24 FMAs keeps both FMA ports busy). Smaller tiles at the edges are separate
// instantiations with the same arithmetic, so no result depends on where a tile falls.
#include <immintrin.h>

#include <array>
#include <cstdint>
#include <utility>

#include "gemm/avx512_util.h"
#include "gemm/macro_kernel.h"
#include "gemm/microkernel.h"

namespace fastmlp {
namespace {

using i64 = std::int64_t;
constexpr int MR = 12, NR = 32, NV = NR / 16;

// C[R x (V vectors)] = alpha * A @ B + beta * C; `last` masks the columns of the last vector.
// A is a packed panel (MR floats per k) or, !Packed, R rows of a row-major matrix with row
// stride lda, read in place: small-M products then skip packing A altogether. Likewise B is
// a packed panel (NR floats per k) or, !BPacked, a row-major matrix with row stride ldb.
template <int R, int V, bool Packed, bool BPacked>
void tile(i64 kc, const float* a, i64 lda, const float* b, i64 ldb, float* c, i64 ldc,
          float alpha, float beta, __mmask16 last) {
  const i64 row_step = Packed ? 1 : lda, k_step = Packed ? MR : 1, b_step = BPacked ? NR : ldb;
  __m512 acc[R][V];
  // One k step; the first (kc >= 1 here) sets the sums to its products instead of adding
  // them onto zeros: a zeroing uop fewer per sum on the FMA ports, which thin-k tiles feel
  // (the same values; only an exact -0 product keeps its sign).
  const auto step = [&](const float* ap, const float* bp, bool first) {
    __m512 bv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v)
      bv[v] = BPacked ? _mm512_load_ps(bp + 16 * v)
                      : _mm512_maskz_loadu_ps(v == V - 1 ? last : static_cast<__mmask16>(0xFFFF),
                                              bp + 16 * v);
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(ap[r * row_step]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v)
        acc[r][v] = first ? _mm512_mul_ps(av, bv[v]) : _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  };
  step(a, b, true);
  a += k_step, b += b_step;
  for (i64 p = 1; p < kc; ++p, a += k_step, b += b_step) step(a, b, false);
  store_tile(c, ldc, acc, last, alpha, beta);
}

// Transposes the `rows` x `depth` row-major block at src (rows <= 16) so that packed row p
// (16 floats, rows zero-padded) lands at dst + p * stride, storing the lanes in `keep`.
inline void transpose_rows(const float* src, i64 ld, int rows, i64 depth, float* dst, i64 stride,
                           __mmask16 keep) {
  for (i64 p0 = 0; p0 < depth; p0 += 16) {
    const i64 np = depth - p0 < 16 ? depth - p0 : 16;
    const __mmask16 mp = first_lanes(np);
    __m512 in[16], out[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i)
      in[i] = i < rows ? _mm512_maskz_loadu_ps(mp, src + i * ld + p0) : _mm512_setzero_ps();
    transpose16(in, out);
    for (i64 q = 0; q < np; ++q) _mm512_mask_storeu_ps(dst + (p0 + q) * stride, keep, out[q]);
  }
}

void pack_a(const float* a, i64 lda, bool trans, i64 rows, i64 depth, float* dst) {
  static_assert(MR <= 16, "one transpose covers a panel");
  const __mmask16 panel = first_lanes(MR);
  for (i64 i0 = 0; i0 < rows; i0 += MR, dst += MR * depth) {
    const int r = rows - i0 < MR ? static_cast<int>(rows - i0) : MR;
    if (trans) {  // MR contiguous floats per p; rows past r become zeros
      const __mmask16 valid = first_lanes(r);
      for (i64 p = 0; p < depth; ++p)
        _mm512_mask_storeu_ps(dst + p * MR, panel, _mm512_maskz_loadu_ps(valid, a + p * lda + i0));
    } else {
      transpose_rows(a + i0 * lda, lda, r, depth, dst, MR, panel);
    }
  }
}

void pack_b(const float* b, i64 ldb, bool trans, i64 depth, i64 cols, float* dst) {
  for (i64 j0 = 0; j0 < cols; j0 += NR, dst += NR * depth) {
    const i64 c = cols - j0;
    for (int v = 0; v < NV; ++v) {
      if (trans) {  // 16 rows of b per vector of the panel
        const i64 rows = c - 16 * v;
        transpose_rows(b + (j0 + 16 * v) * ldb, ldb, rows < 0 ? 0 : rows < 16 ? int(rows) : 16,
                       depth, dst + 16 * v, NR, first_lanes(16));
      } else {  // contiguous: a masked copy per p
        const __mmask16 m = first_lanes(c - 16 * v);
        const float* src = b + j0 + 16 * v;
        for (i64 p = 0; p < depth; ++p)
          _mm512_store_ps(dst + p * NR + 16 * v, _mm512_maskz_loadu_ps(m, src + p * ldb));
      }
    }
  }
}

using TileFn = void (*)(i64, const float*, i64, const float*, i64, float*, i64, float, float,
                        __mmask16);

template <bool Packed, bool BPacked, std::size_t... I>
constexpr std::array<TileFn, sizeof...(I)> tile_table(std::index_sequence<I...>) {
  return {{&tile<static_cast<int>(I / NV) + 1, static_cast<int>(I % NV) + 1, Packed, BPacked>...}};
}
// kTiles<packed A, packed B>[(rows - 1) * NV + (vectors - 1)]
template <bool Packed, bool BPacked>
constexpr auto kTiles = tile_table<Packed, BPacked>(std::make_index_sequence<MR * NV>{});

template <bool Packed, bool BPacked = true>
void run_tile(int rows, int cols, i64 kc, const float* a, i64 lda, const float* b, i64 ldb,
              float* c, i64 ldc, float alpha, float beta) {
  const int vectors = (cols + 15) / 16;
  const __mmask16 last = static_cast<__mmask16>(0xFFFFu >> (16 * vectors - cols));
  kTiles<Packed, BPacked>[(rows - 1) * NV + vectors - 1](kc, a, lda, b, ldb, c, ldc, alpha, beta,
                                                         last);
}

// Tiles for macro_kernel, whose tile calls carry no B row stride.
template <bool Packed>
void run_packed_tile(int rows, int cols, i64 kc, const float* a, i64 lda, const float* b,
                     float* c, i64 ldc, float alpha, float beta) {
  run_tile<Packed>(rows, cols, kc, a, lda, b, NR, c, ldc, alpha, beta);
}

void macro(const float* pa, const float* pb, i64 mc, i64 nc, i64 kc, float* c, i64 ldc,
           float alpha, float beta, const Epilogue* epi, i64 row0, i64 col0) {
  macro_kernel<MR, NR>(run_packed_tile<true>, pa, kc, pb, kc, mc, nc, kc, c, ldc, alpha, beta,
                       epi, row0, col0);
}

void macro_rowmajor_a(const float* a, i64 lda, const float* pb, i64 mc, i64 nc, i64 kc, float* c,
                      i64 ldc, float alpha, float beta, const Epilogue* epi, i64 row0, i64 col0) {
  macro_kernel<MR, NR>(run_packed_tile<false>, a, lda, pb, kc, mc, nc, kc, c, ldc, alpha, beta,
                       epi, row0, col0);
}

void macro_rowmajor_b(const float* pa, const float* b, i64 ldb, i64 mc, i64 nc, i64 kc, float* c,
                      i64 ldc, float alpha, float beta, const Epilogue* epi, i64 row0, i64 col0) {
  const auto in_place_b = [ldb](int rows, int cols, i64 depth, const float* a, i64 lda,
                                const float* bj, float* cj, i64 ldcj, float al, float be) {
    run_tile<true, false>(rows, cols, depth, a, lda, bj, ldb, cj, ldcj, al, be);
  };
  macro_kernel<MR, NR>(in_place_b, pa, kc, b, /*b_step=*/1, mc, nc, kc, c, ldc, alpha, beta, epi,
                       row0, col0);
}

}  // namespace

const GemmKernels& gemm_kernels_avx512() {
  static const GemmKernels k = {MR, NR, /*elem_bytes=*/4,
                                pack_a, pack_b, macro, macro_rowmajor_a, /*k_align=*/1,
                                macro_rowmajor_b};
  return k;
}

}  // namespace fastmlp
