// torch.optim SGD, RMSprop, Adam and AdamW steps in float32, in place, one fused pass over
// the n parameters, on arguments the bindings have checked. The float32 constants are the
// oracle's Python floats rounded once (coefficients such as 1 - alpha computed in double
// first). Elementwise: any thread split gives the same bits.
#pragma once
#include <cstdint>

#include "kernels/ops/ops.h"
#include "runtime/team.h"

namespace fastmlp {

// g = grad + weight_decay * param; with momentum buf = momentum * buf + g and the step is
// g + momentum * buf (nesterov) or buf; param -= lr * step. buf may be null without momentum.
void sgd_step(float* param, const float* grad, float* buf, std::int64_t n, double lr,
              double momentum, bool nesterov, double weight_decay);

// centered=False: square_avg = alpha * square_avg + (1 - alpha) g^2,
// d = g / (sqrt(square_avg) + eps), with momentum buf = momentum * buf + d, param -= lr * d.
void rmsprop_step(float* param, const float* grad, float* square_avg, float* buf,
                  std::int64_t n, double lr, double alpha, double eps, double momentum,
                  double weight_decay);

// torch.optim.Adam's rule (L2 weight decay added to the gradient, bias-corrected moments,
// eps outside the sqrt), in place, in one pass over the n elements.
void adam_step(float* param, const float* grad, float* m, float* v, std::int64_t n, double lr,
               double beta1, double beta2, double eps, std::int64_t step, double weight_decay);

// param *= 1 - lr * weight_decay, then adam_step's update without the L2 term.
void adamw_step(float* param, const float* grad, float* m, float* v, std::int64_t n, double lr,
                double beta1, double beta2, double eps, std::int64_t step, double weight_decay);

// -- team stages (kernels/step.cpp) ------------------------------------------------------
// adam_step's float32 constants for step number `step`.
AdamCoeffs adam_coeffs(double lr, double beta1, double beta2, double eps, std::int64_t step,
                       double weight_decay);
// Threads adam_step uses for n elements (at most `limit`).
int adam_threads(std::int64_t n, int limit);
// adam_step's update on `team` (members beyond adam_threads(n) idle); no barrier.
void adam_on(const Team& team, float* param, const float* grad, float* m, float* v,
             std::int64_t n, const AdamCoeffs& k);

}  // namespace fastmlp
