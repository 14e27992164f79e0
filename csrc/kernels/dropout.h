// Inverted dropout in float32 on arguments the bindings have checked.
#pragma once
#include <cstdint>

namespace fastmlp {

// out = x * [noise >= p] * (1 / (1 - p)), compared in float32 as NumPy does, so exactly
// the oracle's units are dropped; out may be x.
void dropout(const float* x, const float* noise, double p, float* out, std::int64_t count);

}  // namespace fastmlp
