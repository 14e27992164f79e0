// Single-precision GEMM, GotoBLAS/BLIS style: C = alpha * op(A) @ op(B) + beta * C with
// packed panels, cache blocking, a register-blocked microkernel chosen for the CPU at run
// time, optional fused epilogue, and OpenMP threads over disjoint blocks of C.
#pragma once
#include <cstdint>

#include "gemm/blocking.h"
#include "gemm/epilogue.h"
#include "runtime/team.h"

namespace fastmlp {

struct GemmProblem {
  const float* a = nullptr;  // op(A) is m x k: A[m,k] (lda = k) or, trans_a, A[k,m] (lda = m)
  std::int64_t lda = 0;
  bool trans_a = false;
  const float* b = nullptr;  // op(B) is k x n: B[k,n] (ldb = n) or, trans_b, B[n,k] (ldb = k)
  std::int64_t ldb = 0;
  bool trans_b = false;
  float* c = nullptr;  // C[m,n], row stride ldc; not read when beta == 0
  std::int64_t ldc = 0;
  std::int64_t m = 0, n = 0, k = 0;
  float alpha = 1.0f, beta = 0.0f;
  Epilogue epilogue;  // applied to every tile of C once it is final
};

// The blocking GEMMs use now (active ISA path and matmul precision), with its register
// tile, for display.
struct GemmPlan {
  CacheSizes caches;
  GemmBlocking blocking;
  int mr = 0, nr = 0;
};
GemmPlan gemm_plan();

// Threads worth using for an m x n x k product, at most `limit`.
double gemm_macs_per_thread();  // the smallest share worth a thread (from the caches)
int gemm_threads(std::int64_t m, std::int64_t n, std::int64_t k, int limit);

// This thread's share of the product, inside a running team (call from every member);
// a product too small for the whole team runs on the members from `first` on.
// Threads split C into disjoint blocks and each block's sums run over k in one fixed
// order, so C is bitwise the same for any team size.
void gemm(const GemmProblem& p, const Team& team, int first = 0);

// The whole product, on its own team of up to num_threads() threads.
void gemm(const GemmProblem& p);

}  // namespace fastmlp
