#include "kernels.h"

#include <omp.h>

#include <cmath>

#include "dispatch.h"

namespace fastmlp {

void adam_step(float* param, const float* grad, float* m, float* v, std::int64_t n, double lr,
               double beta1, double beta2, double eps, std::int64_t step, double weight_decay) {
  const float b1 = static_cast<float>(beta1), b2 = static_cast<float>(beta2);
  const float wd = static_cast<float>(weight_decay);
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  const float step_size = static_cast<float>(lr / bc1);
  const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  const float e = static_cast<float>(eps);
  // Elementwise: any split over threads gives bitwise-identical results.
#pragma omp parallel if (n > 32768)
  {
    DenormalGuard guard;
#pragma omp for schedule(static)
    for (std::int64_t i = 0; i < n; ++i) {
      const float g = grad[i] + wd * param[i];
      const float mi = b1 * m[i] + (1.0f - b1) * g;
      const float vi = b2 * v[i] + (1.0f - b2) * g * g;
      m[i] = mi;
      v[i] = vi;
      param[i] -= step_size * mi / (std::sqrt(vi) * inv_sqrt_bc2 + e);
    }
  }
}

}  // namespace fastmlp
