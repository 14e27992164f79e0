#include "kernels/dropout.h"

#include "runtime/parallel.h"

namespace fastmlp {

void dropout(const float* x, const float* noise, double p, float* out, i64 count) {
  // the oracle's Python floats, rounded to float32 as NumPy rounds them
  const float threshold = static_cast<float>(p), scale = static_cast<float>(1.0 / (1.0 - p));
  split_over_team(count, static_cast<double>(count), kAlign, [&](const Ops& ops, i64 b, i64 e) {
    ops.dropout(x + b, noise + b, threshold, scale, out + b, e - b);
  });
}

}  // namespace fastmlp
