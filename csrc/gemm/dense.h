// The dense layer's products on top of the GEMM: the forward pass with bias and
// activation fused into the epilogue, and the bias gradient (column sums).
#pragma once
#include <cstdint>

#include "gemm/gemm.h"
#include "kernels/ops/activation.h"
#include "runtime/team.h"

namespace fastmlp {

// out[n,f] = act(x[n,k] @ w[f,k]^T + b[f]); the pre-activation goes to pre when non-null.
void dense_forward(const float* x, const float* w, const float* b, float* out, float* pre,
                   std::int64_t n, std::int64_t k, std::int64_t f, Activation act);

// out[cols] = column sums of grad[rows, cols].
void bias_grad(const float* grad, std::int64_t rows, std::int64_t cols, float* out);

// -- team stages (for kernels that run several on one team, kernels/step.cpp) ----------
// dense_forward as a GEMM problem.
GemmProblem dense_forward_problem(const float* x, const float* w, const float* b, float* out,
                                  float* pre, std::int64_t n, std::int64_t k, std::int64_t f,
                                  Activation act);
// bias_grad's column split over `team`, starting at member `first`; no barrier.
void bias_grad_on(const Team& team, const float* grad, std::int64_t rows, std::int64_t cols,
                  float* out, int first = 0);

}  // namespace fastmlp
