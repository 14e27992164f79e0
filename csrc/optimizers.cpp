#include "optimizers.h"

#include <cmath>

#include "kernel_team.h"

namespace fastmlp {
using namespace layer_kernels;

void sgd_step(float* param, const float* grad, float* buf, i64 n, double lr, double momentum,
              bool nesterov, double weight_decay) {
  const SgdCoeffs k = {static_cast<float>(lr), static_cast<float>(momentum),
                       static_cast<float>(weight_decay), momentum != 0.0, nesterov,
                       weight_decay != 0.0};
  split_over_team(n, static_cast<double>(n), kAlign, [&](const Ops& ops, i64 b, i64 e) {
    ops.sgd(param + b, grad + b, k.use_momentum ? buf + b : nullptr, e - b, k);
  });
}

void rmsprop_step(float* param, const float* grad, float* square_avg, float* buf, i64 n,
                  double lr, double alpha, double eps, double momentum, double weight_decay) {
  const RmspropCoeffs k = {static_cast<float>(lr),       static_cast<float>(alpha),
                           static_cast<float>(1.0 - alpha), static_cast<float>(eps),
                           static_cast<float>(momentum), static_cast<float>(weight_decay),
                           momentum != 0.0,              weight_decay != 0.0};
  split_over_team(n, static_cast<double>(n), kAlign, [&](const Ops& ops, i64 b, i64 e) {
    ops.rmsprop(param + b, grad + b, square_avg + b, k.use_momentum ? buf + b : nullptr, e - b,
                k);
  });
}

void adamw_step(float* param, const float* grad, float* m, float* v, i64 n, double lr,
                double beta1, double beta2, double eps, i64 step, double weight_decay) {
  // as adam_step (kernels.cpp), plus the decoupled decay factor
  const double bias1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bias2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  const AdamCoeffs k = {static_cast<float>(beta1),        static_cast<float>(1.0 - beta1),
                        static_cast<float>(beta2),        static_cast<float>(1.0 - beta2),
                        0.0f,                             static_cast<float>(lr / bias1),
                        static_cast<float>(1.0 / std::sqrt(bias2)), static_cast<float>(eps)};
  const float decay = static_cast<float>(1.0 - lr * weight_decay);
  split_over_team(n, static_cast<double>(n), kAlign, [&](const Ops& ops, i64 b, i64 e) {
    ops.adamw(param + b, grad + b, m + b, v + b, e - b, k, decay);
  });
}

}  // namespace fastmlp
