// Elementwise training kernels in float32 on validated arguments (see kernels.h).
#pragma once
#include <cstdint>

#include "activation.h"

namespace fastmlp {

// out = act(x) over `count` elements; out may be x.
void activation_forward(Activation act, const float* x, float* out, std::int64_t count);

// Inverted dropout: out = x * [noise >= p] * (1 / (1 - p)), compared in float32 as NumPy
// does, so exactly the oracle's units are dropped; out may be x.
void dropout(const float* x, const float* noise, double p, float* out, std::int64_t count);

}  // namespace fastmlp
