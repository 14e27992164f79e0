// torch.optim SGD, RMSprop and AdamW steps in float32, in place, one fused pass over the
// n parameters, on validated arguments. The float32 constants are the oracle's Python
// floats rounded once (coefficients such as 1 - alpha computed in double first).
#pragma once
#include <cstdint>

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

// param *= 1 - lr * weight_decay, then adam_step's update without the L2 term.
void adamw_step(float* param, const float* grad, float* m, float* v, std::int64_t n, double lr,
                double beta1, double beta2, double eps, std::int64_t step, double weight_decay);

}  // namespace fastmlp
