#include "losses.h"

#include "kernel_team.h"

namespace fastmlp {
using namespace layer_kernels;

double mse_loss(const float* outputs, const i64* labels, i64 n, i64 classes, float* grad) {
  double* row_loss = row_buffer(n);
  const double count = static_cast<double>(n * classes);
  const float scale = static_cast<float>(2.0 / count);  // the oracle's 2.0 / (n * c)
  split_over_team(n, count, 1, [&](const Ops& ops, i64 b, i64 e) {
    ops.mse_rows(outputs + b * classes, labels + b, e - b, classes, scale, grad + b * classes,
                 row_loss + b);
  });
  return ordered_sum(row_loss, n) / count;
}

double sigmoid_binary_cross_entropy(const float* logits, const i64* labels, i64 n, float* grad) {
  double* loss = row_buffer(n);
  const float scale = static_cast<float>(1.0 / static_cast<double>(n));
  split_over_team(n, static_cast<double>(n), kAlign, [&](const Ops& ops, i64 b, i64 e) {
    ops.sigmoid_bce(logits + b, labels + b, e - b, scale, grad + b, loss + b);
  });
  return ordered_sum(loss, n) / static_cast<double>(n);
}

}  // namespace fastmlp
