#include "kernels/batch_norm.h"

#include "runtime/parallel.h"

namespace fastmlp {

void batch_norm_forward(const float* x, const float* gamma, const float* beta, float* out,
                        float* mean, float* invstd, float* running_mean, float* running_var,
                        i64 n, i64 f, double momentum, double eps) {
  // the oracle's Python-float constants, each computed in double and rounded once
  const BatchNormCoeffs k = {static_cast<float>(n), static_cast<float>(eps),
                             static_cast<float>(1.0 - momentum), static_cast<float>(momentum),
                             static_cast<float>(momentum * static_cast<double>(n) /
                                                static_cast<double>(n - 1))};
  split_over_team(f, static_cast<double>(n * f), kAlign, [&](const Ops& ops, i64 b, i64 e) {
    ops.batch_norm_forward(x + b, f, n, e - b, gamma + b, beta + b, out + b, mean + b,
                           invstd + b, running_mean + b, running_var + b, k);
  });
}

void batch_norm_inference(const float* x, const float* gamma, const float* beta,
                          const float* running_mean, const float* running_var, float* out, i64 n,
                          i64 f, double eps) {
  // elementwise given the per-feature scale: rows split (each thread derives the scale)
  const float eps32 = static_cast<float>(eps);
  split_over_team(n, static_cast<double>(n * f), 1, [&](const Ops& ops, i64 b, i64 e) {
    ops.batch_norm_inference(x + b * f, f, e - b, f, gamma, beta, running_mean, running_var,
                             eps32, out + b * f);
  });
}

void batch_norm_backward(const float* grad, const float* x, const float* gamma,
                         const float* mean, const float* invstd, float* grad_x,
                         float* grad_gamma, float* grad_beta, i64 n, i64 f) {
  const float inv_n = static_cast<float>(1.0 / static_cast<double>(n));
  split_over_team(f, static_cast<double>(n * f), kAlign, [&](const Ops& ops, i64 b, i64 e) {
    ops.batch_norm_backward(grad + b, x + b, f, n, e - b, gamma + b, mean + b, invstd + b, inv_n,
                            grad_x + b, grad_gamma + b, grad_beta + b);
  });
}

}  // namespace fastmlp
