#include "kernels/optimizers.h"

#include <algorithm>
#include <cmath>

#include "runtime/parallel.h"

namespace fastmlp {

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

AdamCoeffs adam_coeffs(double lr, double beta1, double beta2, double eps, i64 step,
                       double weight_decay) {
  // Constants rounded to float32 from double expressions, as NumPy does with Python floats.
  const double bias1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bias2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  return {static_cast<float>(beta1),        static_cast<float>(1.0 - beta1),
          static_cast<float>(beta2),        static_cast<float>(1.0 - beta2),
          static_cast<float>(weight_decay), static_cast<float>(lr / bias1),
          static_cast<float>(1.0 / std::sqrt(bias2)), static_cast<float>(eps)};
}

int adam_threads(i64 n, int limit) { return elementwise_threads(static_cast<double>(n), limit); }

void adam_on(const Team& team, float* param, const float* grad, float* m, float* v, i64 n,
             const AdamCoeffs& k) {
  // elementwise: any split gives the same bits; the same split as adam_step all the same
  const int used = std::min(team.size, adam_threads(n, team.size));
  if (team.id >= used) return;
  const Range r = split(n, used, team.id, kAlign);
  if (r.size() > 0)
    active_ops().adam(param + r.begin, grad + r.begin, m + r.begin, v + r.begin, r.size(), k);
}

void adam_step(float* param, const float* grad, float* m, float* v, i64 n, double lr,
               double beta1, double beta2, double eps, i64 step, double weight_decay) {
  const AdamCoeffs k = adam_coeffs(lr, beta1, beta2, eps, step, weight_decay);
  run_team(adam_threads(n, num_threads()),
           [&](const Team& team) { adam_on(team, param, grad, m, v, n, k); });
}

void adamw_step(float* param, const float* grad, float* m, float* v, i64 n, double lr,
                double beta1, double beta2, double eps, i64 step, double weight_decay) {
  // Adam's constants without the L2 term, plus the decoupled decay factor
  const AdamCoeffs k = adam_coeffs(lr, beta1, beta2, eps, step, 0.0);
  const float decay = static_cast<float>(1.0 - lr * weight_decay);
  split_over_team(n, static_cast<double>(n), kAlign, [&](const Ops& ops, i64 b, i64 e) {
    ops.adamw(param + b, grad + b, m + b, v + b, e - b, k, decay);
  });
}

}  // namespace fastmlp
