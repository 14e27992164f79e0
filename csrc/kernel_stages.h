// Team-level stages of the kernels in kernels.cpp, for kernels that run several of them on
// one OpenMP team (train_steps.cpp): each is called by every member of a running team.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels.h"
#include "ops/ops.h"
#include "team.h"

namespace fastmlp {

// Team size forward_backward uses for n rows (at most `limit`).
int forward_backward_threads(std::int64_t n, const std::vector<DenseLayer>& layers, int limit);

// forward_backward's stages on `team`; row i's loss goes to row_loss[i] (n entries). Ends
// with a team barrier: every gradient is complete when it returns.
void forward_backward_on(const Team& team, const float* x, const std::int64_t* labels,
                         std::int64_t n, const std::vector<DenseLayer>& layers, Activation act,
                         double* row_loss);

// Mean of n per-row losses, summed in row order (the loss forward_backward returns).
double row_mean(const double* values, std::int64_t n);

// adam_step's float32 constants for step number `step`.
AdamCoeffs adam_coeffs(double lr, double beta1, double beta2, double eps, std::int64_t step,
                       double weight_decay);

// Threads adam_step uses for n elements (at most `limit`).
int adam_threads(std::int64_t n, int limit);

// adam_step's update on `team` (members beyond adam_threads(n) idle); no barrier.
void adam_on(const Team& team, float* param, const float* grad, float* m, float* v,
             std::int64_t n, const AdamCoeffs& k);

}  // namespace fastmlp
