// bfloat16 GEMM on AMX tiles, for matmul precision "bfloat16": op(A) and op(B) are rounded
// to bfloat16 while they are packed and the tile unit sums their exact products in
// float32. A 32 x 32 block of C lives in four 16 x 16 float32 tiles (tmm0-3); each 32-deep
// step loads two tiles of A (tmm4-5: 16 rows x 32 bf16) and two of B (tmm6-7: 16 pairs of
// k x 16 columns, the pair-interleaved "VNNI" layout TDPBF16PS reads) and issues four
// TDPBF16PS, 32 Ki multiply-adds.
//
// Packed layouts, in chunks of 32 along k (depth zero-padded to a multiple of 32, rows and
// columns to 32, so every tile step is whole):
//   A panel, 32 rows: per chunk, rows 0-15 then rows 16-31, each row 32 bf16 (64 bytes);
//   B panel, 32 columns: per chunk, columns 0-15 then 16-31, each tile row one pair of k
//   for 16 columns: dword j = bf16(op(B)(k, j)) | bf16(op(B)(k + 1, j)) << 16.
// Rounding is VCVTNE2PS2BF16's (nearest even, NaN kept, denormals to zero) - the same as
// the float32 emulation path's round_to_bfloat16 (gemm/bfloat16.h).
#include <immintrin.h>

#include <cstdint>

#include "gemm/avx512_util.h"
#include "gemm/bf16_convert.h"
#include "gemm/microkernel.h"

namespace fastmlp {
namespace {

using i64 = std::int64_t;
using bf16 = std::uint16_t;
constexpr int MR = 32, NR = 32, KB = 32;  // C block, and the depth of one tile step
constexpr int kTileElems = 16 * KB;       // bf16 in one A or B tile

i64 padded_depth(i64 depth) { return (depth + KB - 1) / KB * KB; }

// Stores the 16 x 16 dword transpose of rows[] (row s lane j -> tile row j lane s).
void store_transposed(const __m512i rows[16], bf16* tile) {
  __m512 in[16], out[16];
  for (int s = 0; s < 16; ++s) in[s] = _mm512_castsi512_ps(rows[s]);
  transpose16(in, out);
  for (int j = 0; j < 16; ++j) _mm512_store_si512(tile + j * KB, _mm512_castps_si512(out[j]));
}

void zero_tile(bf16* tile) {
  for (int r = 0; r < 16; ++r) _mm512_store_si512(tile + r * KB, _mm512_setzero_si512());
}

// One 16-row A tile: rows r0.. of op(A) (n of them valid), depth p0..p0+31.
void pack_a_tile(const float* a, i64 lda, bool trans, i64 r0, i64 n, i64 p0, i64 depth,
                 bf16* tile) {
  if (n <= 0) return zero_tile(tile);
  if (!trans) {  // row-major: each tile row is 32 consecutive floats of a row of A
    for (int r = 0; r < 16; ++r)
      _mm512_store_si512(tile + r * KB, r < n ? row_to_bf16(a + (r0 + r) * lda + p0, depth - p0)
                                              : _mm512_setzero_si512());
    return;
  }
  // op(A)(i, p) = a[p * lda + i]: pair rows p, p+1 of a (contiguous in i), then transpose
  const __mmask16 valid = first_lanes(n);
  __m512i pairs[16];
  for (int s = 0; s < 16; ++s) {
    const i64 p = p0 + 2 * s;
    pairs[s] = pair_rows(p < depth ? a + p * lda + r0 : nullptr,
                         p + 1 < depth ? a + (p + 1) * lda + r0 : nullptr, valid);
  }
  store_transposed(pairs, tile);
}

// One 16-column B tile: columns c0.. of op(B) (n of them valid), depth p0..p0+31.
void pack_b_tile(const float* b, i64 ldb, bool trans, i64 c0, i64 n, i64 p0, i64 depth,
                 bf16* tile) {
  if (n <= 0) return zero_tile(tile);
  if (!trans) {  // op(B)(p, j) = b[p * ldb + j]: a tile row pairs two rows of B
    const __mmask16 valid = first_lanes(n);
    for (int s = 0; s < 16; ++s) {
      const i64 p = p0 + 2 * s;
      _mm512_store_si512(tile + s * KB,
                         pair_rows(p < depth ? b + p * ldb + c0 : nullptr,
                                   p + 1 < depth ? b + (p + 1) * ldb + c0 : nullptr, valid));
    }
    return;
  }
  // op(B)(p, j) = b[j * ldb + p]: column j's 32 k values are contiguous, and in order they
  // are already its 16 pairs; transpose columns into tile rows
  __m512i cols[16];
  for (int j = 0; j < 16; ++j)
    cols[j] = j < n ? row_to_bf16(b + (c0 + j) * ldb + p0, depth - p0) : _mm512_setzero_si512();
  store_transposed(cols, tile);
}

// The panel loops shared by A and B: `count` rows of op(A) or columns of op(B) in panels of
// 32 (MR == NR), each panel chunk by chunk along k, two 16-wide tiles per chunk;
// pack_tile(first, valid, p0, tile) fills the tile of rows/columns first.. at depth p0.
template <class PackTile>
void pack_panels(i64 count, i64 depth, float* dst_floats, PackTile pack_tile) {
  static_assert(MR == NR, "A and B panels are equally wide");
  bf16* dst = reinterpret_cast<bf16*>(dst_floats);
  const i64 dp = padded_depth(depth);
  for (i64 i0 = 0; i0 < count; i0 += MR, dst += MR * dp)
    for (i64 p0 = 0; p0 < dp; p0 += KB)
      for (int half = 0; half < 2; ++half) {
        const i64 first = i0 + 16 * half;
        pack_tile(first, count - first, p0, dst + p0 * MR + half * kTileElems);
      }
}

void pack_a(const float* a, i64 lda, bool trans, i64 rows, i64 depth, float* dst) {
  pack_panels(rows, depth, dst, [&](i64 r0, i64 n, i64 p0, bf16* tile) {
    pack_a_tile(a, lda, trans, r0, n, p0, depth, tile);
  });
}

void pack_b(const float* b, i64 ldb, bool trans, i64 depth, i64 cols, float* dst) {
  pack_panels(cols, depth, dst, [&](i64 c0, i64 n, i64 p0, bf16* tile) {
    pack_b_tile(b, ldb, trans, c0, n, p0, depth, tile);
  });
}

// Palette 1, tiles 0-7 all 16 rows x 64 bytes.
struct alignas(64) TileConfig {
  std::uint8_t palette = 1, start_row = 0, reserved[14] = {};
  std::uint16_t bytes_per_row[16] = {64, 64, 64, 64, 64, 64, 64, 64};
  std::uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};

// C block (rows x cols <= 32 x 32) = alpha * sum + beta * C from the float32 sums in `sum`
// (32 x 32, row-major), in the float32 microkernels' order of operations.
void write_block(const float* sum, int rows, int cols, float* c, i64 ldc, float alpha,
                 float beta) {
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  for (int r = 0; r < rows; ++r)
    for (int v = 0; v < 2; ++v) {
      const __mmask16 m = first_lanes(cols - 16 * v);
      if (!m) break;
      store_scaled(c + r * ldc + 16 * v, m, _mm512_load_ps(sum + r * NR + 16 * v), alpha, beta,
                   va, vb);
    }
}

void macro(const float* pa_floats, const float* pb_floats, i64 mc, i64 nc, i64 depth, float* c,
           i64 ldc, float alpha, float beta, const Epilogue* epi, i64 row0, i64 col0) {
  const bf16* pa = reinterpret_cast<const bf16*>(pa_floats);
  const bf16* pb = reinterpret_cast<const bf16*>(pb_floats);
  const i64 dp = padded_depth(depth);
  static const TileConfig config;
  _tile_loadconfig(&config);
  alignas(64) float sum[MR * NR];
  for (i64 i = 0; i < mc; i += MR) {
    const bf16* a = pa + i * dp;
    const int rows = mc - i < MR ? static_cast<int>(mc - i) : MR;
    for (i64 j = 0; j < nc; j += NR) {
      const bf16* b = pb + j * dp;
      const int cols = nc - j < NR ? static_cast<int>(nc - j) : NR;
      _tile_zero(0);
      _tile_zero(1);
      _tile_zero(2);
      _tile_zero(3);
      for (i64 p = 0; p < dp; p += KB) {
        _tile_loadd(4, a + p * MR, 64);
        _tile_loadd(5, a + p * MR + kTileElems, 64);
        _tile_loadd(6, b + p * NR, 64);
        _tile_loadd(7, b + p * NR + kTileElems, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
      }
      // Through a staging block, never tile stores straight into C: at power-of-two row
      // strides a tile's 16 rows of C all fall in one L1 set (measured 1.5x slower).
      constexpr int stride = NR * sizeof(float);
      _tile_stored(0, sum, stride);
      _tile_stored(1, sum + 16, stride);
      _tile_stored(2, sum + 16 * NR, stride);
      _tile_stored(3, sum + 16 * NR + 16, stride);
      write_block(sum, rows, cols, c + i * ldc + j, ldc, alpha, beta);
      if (epi) epi->apply(row0 + i, col0 + j, rows, cols);
    }
  }
  _tile_release();  // the OS need not save 8 KiB of tile state at every switch
}

}  // namespace

const GemmKernels& gemm_kernels_amx() {
  static const GemmKernels k = {MR, NR, /*elem_bytes=*/2,
                                pack_a, pack_b, macro, /*macro_rowmajor_a=*/nullptr,
                                /*k_align=*/KB};
  return k;
}

}  // namespace fastmlp
