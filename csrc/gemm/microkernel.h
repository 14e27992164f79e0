// What each ISA's GEMM translation unit provides (microkernel_<isa>.cpp): its register
// tile, packing routines and the macro-kernel around its microkernel. The cache blocking
// is derived from the tile and the CPU's caches at run time (gemm/blocking.h).
//
// Packed layouts (BLIS): op(A) in panels of MR rows, each panel k-major (MR floats per k);
// op(B) in panels of NR columns, each k-major (NR floats per k); partial panels are
// zero-padded, so the microkernel always reads whole, 64-byte-aligned vectors.
#pragma once
#include <cstdint>

#include "gemm/epilogue.h"

namespace fastmlp {

struct GemmKernels {
  int mr, nr;  // register tile of C
  int elem_bytes;  // bytes per element of a packed panel (4: float32, 2: bfloat16)
  // op(A)[rows x depth] at a (op(A)(i,p) = trans ? a[p*lda+i] : a[i*lda+p]) -> dst
  void (*pack_a)(const float* a, std::int64_t lda, bool trans, std::int64_t rows,
                 std::int64_t depth, float* dst);
  // op(B)[depth x cols] at b (op(B)(p,j) = trans ? b[j*ldb+p] : b[p*ldb+j]) -> dst
  void (*pack_b)(const float* b, std::int64_t ldb, bool trans, std::int64_t depth,
                 std::int64_t cols, float* dst);
  // C[rows x cols] = alpha * A_packed @ B_packed + beta * C (C not read when beta == 0),
  // then epi (if any) on each tile; (row0, col0) is C's position in the whole output.
  void (*macro)(const float* pa, const float* pb, std::int64_t rows, std::int64_t cols,
                std::int64_t depth, float* c, std::int64_t ldc, float alpha, float beta,
                const Epilogue* epi, std::int64_t row0, std::int64_t col0);
  // Optional (null when absent): macro, reading a row-major op(A) (trans == false) with row
  // stride lda in place instead of a packed copy.
  void (*macro_rowmajor_a)(const float* a, std::int64_t lda, const float* pb, std::int64_t rows,
                           std::int64_t cols, std::int64_t depth, float* c, std::int64_t ldc,
                           float alpha, float beta, const Epilogue* epi, std::int64_t row0,
                           std::int64_t col0);
  // Packed panels hold depth rounded up to a multiple of this (AMX: 32-deep tile steps);
  // the driver sizes its pack buffers for it.
  int k_align = 1;
  // Optional: macro for a block of at most mr rows, with op(A) packed and a row-major op(B)
  // (trans == false, row stride ldb) read in place - one row panel uses each element of B
  // once, so packing B would cost as much as the product.
  void (*macro_rowmajor_b)(const float* pa, const float* b, std::int64_t ldb, std::int64_t rows,
                           std::int64_t cols, std::int64_t depth, float* c, std::int64_t ldc,
                           float alpha, float beta, const Epilogue* epi, std::int64_t row0,
                           std::int64_t col0) = nullptr;
};

const GemmKernels& gemm_kernels_avx512();
const GemmKernels& gemm_kernels_avx2();
const GemmKernels& gemm_kernels_generic();
// bfloat16 GEMM on AMX tiles (microkernel_amx.cpp); call only when amx_available().
const GemmKernels& gemm_kernels_amx();
// bfloat16 GEMM with VDPBF16PS (microkernel_avx512_bf16.cpp); only on CPUs with AVX512-BF16.
const GemmKernels& gemm_kernels_avx512_bf16();

}  // namespace fastmlp
