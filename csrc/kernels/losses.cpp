#include "kernels/losses.h"

#include <algorithm>

#include "runtime/parallel.h"

namespace fastmlp {
namespace {

// A softmax cross-entropy row (max, exp, sum, log, two divisions per class) costs some
// 100-200 ns at 10 classes: inside a running team, a few dozen rows already pay for the
// split (the stage ends in a barrier either way).
constexpr double kSoftmaxRowsPerThread = 32;

}  // namespace

void softmax_cross_entropy_on(const Team& team, const float* logits, const i64* labels, i64 n,
                              i64 classes, float* grad, double* row_loss, IndexFault& fault) {
  const int used = std::max(elementwise_threads(static_cast<double>(n * classes), team.size),
                            threads_for(static_cast<double>(n), kSoftmaxRowsPerThread, team.size));
  if (team.id >= used) return;
  const Ops& ops = active_ops();
  const Range rows = split(n, used, team.id);
  const float scale = static_cast<float>(n);
  for (i64 i = rows.begin; i < rows.end; ++i) {
    const i64 label = read_index(labels + i);
    if (!index_in_range(label, classes)) {
      fault.mark();
      row_loss[i] = 0.0;
      continue;
    }
    row_loss[i] = ops.softmax_xent_row(logits + i * classes, classes, label, scale,
                                       grad + i * classes);
  }
}

double softmax_cross_entropy(const float* logits, const i64* labels, i64 n, i64 classes,
                             float* grad) {
  double* row_loss = row_buffer(n);
  IndexFault fault;
  run_team(elementwise_threads(static_cast<double>(n * classes), num_threads()),
           [&](const Team& team) {
             softmax_cross_entropy_on(team, logits, labels, n, classes, grad, row_loss, fault);
           });
  fault.throw_if_hit("labels");
  return ordered_mean(row_loss, n);
}

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
  return ordered_mean(loss, n);
}

}  // namespace fastmlp
