#include "train_steps.h"

#include <algorithm>
#include <cstring>

#include "dispatch.h"
#include "kernel_stages.h"
#include "team.h"

namespace fastmlp {
namespace {

// Rows (and labels) of step s's minibatch into xb / yb, split by rows over the team.
void gather(const Team& team, const TrainSteps& a, i64 first, i64 rows) {
  const Range r = split(rows, team.size, team.id);
  const std::size_t row_bytes = static_cast<std::size_t>(a.in) * sizeof(float);
  for (i64 i = r.begin; i < r.end; ++i) {
    const i64 src = a.order[first + i];
    std::memcpy(a.xb + i * a.in, a.x + src * a.in, row_bytes);
    a.yb[i] = a.labels[src];
  }
}

}  // namespace

void adam_train_steps(const TrainSteps& a) {
  if (a.steps <= 0) return;
  const int limit = num_threads();
  const int threads = std::max(forward_backward_threads(a.batch, a.layers, limit),
                               adam_threads(a.count, limit));
  std::vector<double> row_loss(static_cast<std::size_t>(a.batch));
  // step s's minibatch: order[start + s * batch ...], the last one possibly shorter
  auto rows_of = [&](i64 s) { return std::min(a.batch, a.order_len - (a.start + s * a.batch)); };

  run_team(threads, [&](const Team& team) {
    i64 rows = rows_of(0);
    gather(team, a, a.start, rows);
    team.barrier();
    for (i64 s = 0; s < a.steps; ++s) {
      forward_backward_on(team, a.xb, a.yb, rows, a.layers, a.act, row_loss.data());
      if (team.id == 0) a.losses[s] = row_mean(row_loss.data(), rows);
      // the step's update, and the next step's gather (neither reads what the other writes)
      adam_on(team, a.params, a.param_grads, a.m, a.v, a.count,
              adam_coeffs(a.lr, a.beta1, a.beta2, a.eps, a.t0 + s + 1, a.weight_decay));
      if (s + 1 < a.steps) {
        rows = rows_of(s + 1);
        gather(team, a, a.start + (s + 1) * a.batch, rows);
      }
      team.barrier();
    }
  });
}

}  // namespace fastmlp
