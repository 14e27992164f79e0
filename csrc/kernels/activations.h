// The hidden-layer activations (kernels/ops/activation.h) forward and backward, in float32
// on arguments the bindings have checked. Elementwise: any thread split gives the same bits.
#pragma once
#include <cstdint>

#include "kernels/ops/activation.h"

namespace fastmlp {

// out = act(x) over `count` elements; out may be x.
void activation_forward(Activation act, const float* x, float* out, std::int64_t count);

// out = grad * act'(.) over `count` elements; ref is out_act, or pre for relu-like
// activations (unused for identity). out may be grad.
void activation_backward(Activation act, const float* grad, const float* ref, float* out,
                         std::int64_t count);

}  // namespace fastmlp
