// The loops around a microkernel (BLIS's macro-kernel), shared by the ISA translation
// units. The A panel (MR x kc) stays in L1 while the B panels stream past it from L2.
#pragma once
#include <cstdint>

#include "gemm/epilogue.h"

namespace fastmlp {
namespace {

// A finished rows x cols tile (row stride ld_tile) into C, one scalar at a time:
// c = alpha * tile + beta * c (c not read when beta == 0). The portable tiles' write-back.
inline void store_tile_scalar(const float* tile, int ld_tile, int rows, int cols, float* c,
                              std::int64_t ldc, float alpha, float beta) {
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < cols; ++j) {
      const float t = tile[r * ld_tile + j];
      float x = alpha == 1.0f ? t : alpha * t;
      float& dst = c[r * ldc + j];
      if (beta == 1.0f)
        x = dst + x;
      else if (beta != 0.0f)
        x = beta * dst + x;
      dst = x;
    }
}

// tile(rows, cols, kc, a_panel, lda, b_panel, c, ldc, alpha, beta) computes one C tile.
// Row i of A starts at a + i * lda: packed panels have lda = kc (one MR x kc panel per MR
// rows), a row-major A read in place has its own row stride.
// Column j of B starts at b + j * b_step: kc for packed panels (NR x kc per NR columns),
// 1 for a row-major B read in place (the tile then knows its row stride).
template <int MR, int NR, class Tile>
void macro_kernel(Tile tile, const float* a, std::int64_t lda, const float* b, std::int64_t b_step,
                  std::int64_t mc, std::int64_t nc, std::int64_t kc, float* c, std::int64_t ldc,
                  float alpha, float beta, const Epilogue* epi, std::int64_t row0,
                  std::int64_t col0) {
  for (std::int64_t i = 0; i < mc; i += MR) {
    const int rows = mc - i < MR ? static_cast<int>(mc - i) : MR;
    for (std::int64_t j = 0; j < nc; j += NR) {
      const int cols = nc - j < NR ? static_cast<int>(nc - j) : NR;
      tile(rows, cols, kc, a + i * lda, lda, b + j * b_step, c + i * ldc + j, ldc, alpha, beta);
      if (epi) epi->apply(row0 + i, col0 + j, rows, cols);
    }
  }
}

}  // namespace
}  // namespace fastmlp
