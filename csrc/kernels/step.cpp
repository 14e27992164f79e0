#include "kernels/step.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "gemm/dense.h"
#include "gemm/gemm.h"
#include "kernels/losses.h"
#include "kernels/optimizers.h"
#include "runtime/parallel.h"

namespace fastmlp {
namespace {

// Team size forward_backward uses for n rows (at most `limit`).
int forward_backward_threads(i64 n, const std::vector<DenseLayer>& layers, int limit) {
  double macs = 0.0;
  for (const DenseLayer& l : layers) macs += 3.0 * static_cast<double>(n * l.in * l.out);
  // the whole step's multiply-adds size the team, as for one product of that many
  return gemm_threads(1, 1, static_cast<i64>(macs), limit);
}

// forward_backward's stages on `team`; row i's loss goes to row_loss[i] (n entries). Ends
// with a team barrier: every gradient is complete when it returns.
void forward_backward_on(const Team& team, const float* x, const i64* labels, i64 n,
                         const std::vector<DenseLayer>& layers, Activation act,
                         double* row_loss, IndexFault& fault) {
  const std::size_t last = layers.size() - 1;
  // forward: acts[i] = act_i(acts[i-1] @ W_i^T + b_i), bias and activation fused
  const float* input = x;
  for (std::size_t i = 0; i <= last; ++i) {
    const DenseLayer& l = layers[i];
    gemm(dense_forward_problem(input, l.w, l.b, l.act, nullptr, n, l.in, l.out,
                               i == last ? Activation::identity : act),
         team);
    team.barrier();
    input = l.act;
  }
  const DenseLayer& top = layers[last];
  softmax_cross_entropy_on(team, top.act, labels, n, top.out, top.grad, row_loss, fault);
  team.barrier();
  // backward, one stage per layer: dW_i = G_i^T @ acts[i-1], db_i = colsum(G_i),
  // G_{i-1} = (G_i @ W_i) * act'(acts[i-1]) with the derivative fused into the GEMM;
  // pieces too small to split start on different threads (dW on 0, the others on 1)
  for (std::size_t i = last + 1; i-- > 0;) {
    const DenseLayer& l = layers[i];
    const float* input_i = i == 0 ? x : layers[i - 1].act;
    GemmProblem dw;
    dw.a = l.grad, dw.lda = l.out, dw.trans_a = true;
    dw.b = input_i, dw.ldb = l.in;
    dw.c = l.w_grad, dw.ldc = l.in;
    dw.m = l.out, dw.n = l.in, dw.k = n;
    gemm(dw, team);
    bias_grad_on(team, l.grad, n, l.out, l.b_grad, 1);
    if (i > 0) {
      const DenseLayer& below = layers[i - 1];
      GemmProblem dx;
      dx.a = l.grad, dx.lda = l.out;
      dx.b = l.w, dx.ldb = l.in;
      dx.c = below.grad, dx.ldc = l.in;
      dx.m = n, dx.n = l.in, dx.k = l.out;
      dx.epilogue.kind = Epilogue::Kind::activation_backward;
      dx.epilogue.act = act;
      dx.epilogue.ref = below.act, dx.epilogue.ldr = l.in;
      gemm(dx, team, 1);
    }
    team.barrier();
  }
}

// Rows (and labels) of step s's minibatch into xb / yb, split by rows over the team. An
// order entry out of range (rewritten since it was checked) gathers nothing and gets the
// label -1, which the loss stage reports.
void gather(const Team& team, const TrainSteps& a, i64 first, i64 rows) {
  const Range r = split(rows, team.size, team.id);
  const std::size_t row_bytes = static_cast<std::size_t>(a.in) * sizeof(float);
  for (i64 i = r.begin; i < r.end; ++i) {
    const i64 src = read_index(a.order + first + i);
    if (!index_in_range(src, a.rows)) {
      a.yb[i] = -1;
      continue;
    }
    std::memcpy(a.xb + i * a.in, a.x + src * a.in, row_bytes);
    a.yb[i] = a.labels[src];
  }
}

// Rows of logits [n, classes] whose argmax is their label, labels[rows[i]] for row i; the
// argmax is NumPy's (the first maximal entry, and the first NaN if there is one), so every
// backend counts alike.
// A row index rewritten out of [0, data_rows) since the gather is not counted and marks
// `fault` (indices.h: read once, checked where used).
i64 count_correct(const float* logits, const i64* labels, const i64* rows, i64 n,
                  i64 classes, i64 data_rows, IndexFault& fault) {
  i64 correct = 0;
  for (i64 i = 0; i < n; ++i) {
    const float* row = logits + i * classes;
    i64 best = 0;
    for (i64 j = 0; j < classes && !std::isnan(row[best]); ++j)
      if (std::isnan(row[j]) || row[j] > row[best]) best = j;
    const i64 src = read_index(rows + i);
    if (!index_in_range(src, data_rows)) {
      fault.mark();
      continue;
    }
    correct += best == read_index(labels + src);
  }
  return correct;
}

}  // namespace

double forward_backward(const float* x, const i64* labels, i64 n,
                        const std::vector<DenseLayer>& layers, Activation act) {
  const int threads = forward_backward_threads(n, layers, num_threads());
  double* row_loss = row_buffer(n);
  IndexFault fault;
  run_team(threads, [&](const Team& team) {
    forward_backward_on(team, x, labels, n, layers, act, row_loss, fault);
  });
  fault.throw_if_hit("labels");
  return ordered_mean(row_loss, n);
}

void adam_train_steps(const TrainSteps& a) {
  if (a.steps <= 0) return;
  const int limit = num_threads();
  const int threads = std::max(forward_backward_threads(a.batch, a.layers, limit),
                               adam_threads(a.count, limit));
  double* row_loss = row_buffer(a.batch);
  // step s's minibatch: order[start + s * batch ...], the last one possibly shorter
  auto rows_of = [&](i64 s) { return std::min(a.batch, a.order_len - (a.start + s * a.batch)); };

  IndexFault fault;
  run_team(threads, [&](const Team& team) {
    i64 rows = rows_of(0);
    gather(team, a, a.start, rows);
    team.barrier();
    for (i64 s = 0; s < a.steps; ++s) {
      forward_backward_on(team, a.xb, a.yb, rows, a.layers, a.act, row_loss, fault);
      // written only in the loss stage, which a barrier ends: every thread agrees
      if (fault.hit()) break;
      if (team.id == 0) {
        a.losses[s] = ordered_mean(row_loss, rows);
        if (a.correct != nullptr) {
          const DenseLayer& top = a.layers.back();
          // labels through order, not yb: other threads gather the next step's into yb now
          a.correct[s] = count_correct(top.act, a.labels, a.order + a.start + s * a.batch,
                                       rows, top.out, a.rows, fault);
        }
      }
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
  fault.throw_if_hit("order or labels");
}

}  // namespace fastmlp
