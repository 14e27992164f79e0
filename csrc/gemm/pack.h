// Portable packing of op(A) and op(B) into the microkernel's panel layout (see
// microkernel.h), for the ISA translation units; internal linkage, like all ISA code.
#pragma once
#include <cstdint>

namespace fastmlp {
namespace {

template <int MR>
void pack_a_portable(const float* a, std::int64_t lda, bool trans, std::int64_t rows,
                     std::int64_t depth, float* dst) {
  for (std::int64_t i0 = 0; i0 < rows; i0 += MR, dst += MR * depth) {
    const int r = rows - i0 < MR ? static_cast<int>(rows - i0) : MR;
    if (trans && r == MR) {  // op(A)(i, p) = a[p * lda + i]: MR contiguous floats per p
      const float* src = a + i0;
      for (std::int64_t p = 0; p < depth; ++p)
        for (int i = 0; i < MR; ++i) dst[p * MR + i] = src[p * lda + i];
    } else if (trans) {  // the last, partial panel
      const float* src = a + i0;
      for (std::int64_t p = 0; p < depth; ++p)
        for (int i = 0; i < MR; ++i) dst[p * MR + i] = i < r ? src[p * lda + i] : 0.0f;
    } else {  // op(A)(i, p) = a[i * lda + p]: a transpose
      const float* src = a + i0 * lda;
      for (int i = 0; i < MR; ++i)
        for (std::int64_t p = 0; p < depth; ++p)
          dst[p * MR + i] = i < r ? src[i * lda + p] : 0.0f;
    }
  }
}

template <int NR>
void pack_b_portable(const float* b, std::int64_t ldb, bool trans, std::int64_t depth,
                     std::int64_t cols, float* dst) {
  for (std::int64_t j0 = 0; j0 < cols; j0 += NR, dst += NR * depth) {
    const int c = cols - j0 < NR ? static_cast<int>(cols - j0) : NR;
    if (!trans && c == NR) {  // op(B)(p, j) = b[p * ldb + j]: NR contiguous floats per p
      const float* src = b + j0;
      for (std::int64_t p = 0; p < depth; ++p)
        for (int j = 0; j < NR; ++j) dst[p * NR + j] = src[p * ldb + j];
    } else if (!trans) {  // the last, partial panel
      const float* src = b + j0;
      for (std::int64_t p = 0; p < depth; ++p)
        for (int j = 0; j < NR; ++j) dst[p * NR + j] = j < c ? src[p * ldb + j] : 0.0f;
    } else {  // op(B)(p, j) = b[j * ldb + p]: a transpose
      const float* src = b + j0 * ldb;
      for (int j = 0; j < NR; ++j)
        for (std::int64_t p = 0; p < depth; ++p)
          dst[p * NR + j] = j < c ? src[j * ldb + p] : 0.0f;
    }
  }
}

}  // namespace
}  // namespace fastmlp
