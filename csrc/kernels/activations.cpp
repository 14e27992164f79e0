#include "kernels/activations.h"

#include "runtime/parallel.h"

namespace fastmlp {

void activation_forward(Activation act, const float* x, float* out, i64 count) {
  split_over_team(count, static_cast<double>(count), kAlign, [&](const Ops& ops, i64 b, i64 e) {
    ops.activation_forward(act, x + b, out + b, e - b);
  });
}

void activation_backward(Activation act, const float* grad, const float* ref, float* out,
                         i64 count) {
  split_over_team(count, static_cast<double>(count), kAlign, [&](const Ops& ops, i64 b, i64 e) {
    ops.activation_backward(act, grad + b, 0, ref ? ref + b : nullptr, 0, out + b, 0, 1, e - b);
  });
}

}  // namespace fastmlp
