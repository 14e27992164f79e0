// Batch norm over the rows of x[n, f] (torch.nn.BatchNorm1d semantics) in float32, on
// arguments the bindings have checked. Training-mode statistics are column reductions: the
// team splits the features, never the rows, so every result is bitwise identical for any
// thread count.
#pragma once
#include <cstdint>

namespace fastmlp {

// Batch mean and biased variance per feature (n >= 2); mean and invstd = 1/sqrt(var + eps)
// are stored; out = (x - mean) * (invstd * gamma) + beta; running_mean and running_var
// move by `momentum` towards the mean and the unbiased variance var * n / (n - 1).
void batch_norm_forward(const float* x, const float* gamma, const float* beta, float* out,
                        float* mean, float* invstd, float* running_mean, float* running_var,
                        std::int64_t n, std::int64_t f, double momentum, double eps);

// out = (x - running_mean) * (gamma / sqrt(running_var + eps)) + beta.
void batch_norm_inference(const float* x, const float* gamma, const float* beta,
                          const float* running_mean, const float* running_var, float* out,
                          std::int64_t n, std::int64_t f, double eps);

// grad_beta = column sums of grad, grad_gamma = column sums of grad * xhat,
// grad_x = gamma * invstd * (grad - grad_beta / n - xhat * grad_gamma / n); grad_x may be grad.
void batch_norm_backward(const float* grad, const float* x, const float* gamma,
                         const float* mean, const float* invstd, float* grad_x,
                         float* grad_gamma, float* grad_beta, std::int64_t n, std::int64_t f);

}  // namespace fastmlp
