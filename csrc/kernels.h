// Elementwise, reduction and optimizer kernels (float32). Callers have validated shapes.
#pragma once
#include <cstdint>

namespace fastmlp {

// torch.optim.Adam's rule (L2 weight decay added to the gradient, bias-corrected moments,
// eps outside the sqrt), in place, in one pass over the n elements.
void adam_step(float* param, const float* grad, float* m, float* v, std::int64_t n, double lr,
               double beta1, double beta2, double eps, std::int64_t step, double weight_decay);

}  // namespace fastmlp
