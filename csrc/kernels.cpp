#include "kernels.h"

#include <algorithm>
#include <cmath>

#include "dispatch.h"
#include "gemm/gemm.h"
#include "isa_tables.h"
#include "kernel_stages.h"
#include "team.h"

namespace fastmlp {
namespace {

// Elementwise work below this many elements per thread is not worth another thread.
constexpr double kElementsPerThread = 1 << 15;
// Thread splits of elementwise work fall on 64-byte boundaries.
constexpr i64 kAlign = 16;
// A softmax cross-entropy row (max, exp, sum, log, two divisions per class) costs some
// 100-200 ns at 10 classes: inside a running team, a few dozen rows already pay for the
// split (the stage ends in a barrier either way).
constexpr double kSoftmaxRowsPerThread = 32;

const Ops& active_ops() { return ops_for(active_isa()); }

GemmProblem dense_forward_problem(const float* x, const float* w, const float* b, float* out,
                                  float* pre, i64 n, i64 k, i64 f, Activation act) {
  GemmProblem p;
  p.a = x, p.lda = k;
  p.b = w, p.ldb = k, p.trans_b = true;
  p.c = pre ? pre : out, p.ldc = f;
  p.m = n, p.n = f, p.k = k;
  p.epilogue.kind = Epilogue::Kind::bias_activation;
  p.epilogue.act = act;
  p.epilogue.bias = b;
  p.epilogue.out = out, p.epilogue.ldo = f;
  return p;
}

// Rows of the loss split over the team; each row's loss lands in row_loss[row].
void softmax_rows(const Team& team, const float* logits, const i64* labels, i64 n, i64 classes,
                  float* grad, double* row_loss) {
  const int used = std::max(
      threads_for(static_cast<double>(n * classes), kElementsPerThread, team.size),
      threads_for(static_cast<double>(n), kSoftmaxRowsPerThread, team.size));
  if (team.id >= used) return;
  const Ops& ops = active_ops();
  const Range rows = split(n, used, team.id);
  const float scale = static_cast<float>(n);
  for (i64 i = rows.begin; i < rows.end; ++i)
    row_loss[i] = ops.softmax_xent_row(logits + i * classes, classes, labels[i], scale,
                                       grad + i * classes);
}

// Sums in row order on one thread: the loss does not depend on the team size.
double mean(const std::vector<double>& values, i64 n) {
  double total = 0.0;
  for (i64 i = 0; i < n; ++i) total += values[i];
  return total / static_cast<double>(n);
}

void bias_grad_columns(const Team& team, const float* grad, i64 rows, i64 cols, float* out,
                       int first = 0) {
  const int used = threads_for(static_cast<double>(rows * cols), kElementsPerThread, team.size);
  const int rank = team.rank(used, first);
  if (rank < 0) return;
  const Range c = split(cols, used, rank, kAlign);
  if (c.size() > 0) active_ops().column_sums(grad + c.begin, cols, rows, c.size(), out + c.begin);
}

std::vector<double>& row_loss_buffer(i64 n) {
  thread_local std::vector<double> buffer;  // reused by the calling thread across steps
  if (static_cast<i64>(buffer.size()) < n) buffer.resize(static_cast<std::size_t>(n));
  return buffer;
}

}  // namespace

void dense_forward(const float* x, const float* w, const float* b, float* out, float* pre, i64 n,
                   i64 k, i64 f, Activation act) {
  gemm(dense_forward_problem(x, w, b, out, pre, n, k, f, act));
}

void activation_backward(Activation act, const float* grad, const float* ref, float* out,
                         i64 count) {
  const int threads = threads_for(static_cast<double>(count), kElementsPerThread, num_threads());
  run_team(threads, [&](const Team& team) {
    const Range r = split(count, team.size, team.id, kAlign);
    if (r.size() > 0)
      active_ops().activation_backward(act, grad + r.begin, 0, ref ? ref + r.begin : nullptr, 0,
                                       out + r.begin, 0, 1, r.size());
  });
}

void bias_grad(const float* grad, i64 rows, i64 cols, float* out) {
  const int threads = threads_for(static_cast<double>(rows * cols), kElementsPerThread,
                                  num_threads());
  run_team(threads, [&](const Team& team) { bias_grad_columns(team, grad, rows, cols, out); });
}

double softmax_cross_entropy(const float* logits, const i64* labels, i64 n, i64 classes,
                             float* grad) {
  std::vector<double>& row_loss = row_loss_buffer(n);
  const int threads = threads_for(static_cast<double>(n * classes), kElementsPerThread,
                                  num_threads());
  run_team(threads, [&](const Team& team) {
    softmax_rows(team, logits, labels, n, classes, grad, row_loss.data());
  });
  return mean(row_loss, n);
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

int adam_threads(i64 n, int limit) {
  return threads_for(static_cast<double>(n), kElementsPerThread, limit);
}

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

int forward_backward_threads(i64 n, const std::vector<DenseLayer>& layers, int limit) {
  double macs = 0.0;
  for (const DenseLayer& l : layers) macs += 3.0 * static_cast<double>(n * l.in * l.out);
  // the whole step's multiply-adds size the team, as for one product of that many
  return gemm_threads(1, 1, static_cast<i64>(macs), limit);
}

void forward_backward_on(const Team& team, const float* x, const i64* labels, i64 n,
                         const std::vector<DenseLayer>& layers, Activation act,
                         double* row_loss) {
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
  softmax_rows(team, top.act, labels, n, top.out, top.grad, row_loss);
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
    bias_grad_columns(team, l.grad, n, l.out, l.b_grad, 1);
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

double row_mean(const double* values, i64 n) {
  double total = 0.0;
  for (i64 i = 0; i < n; ++i) total += values[i];
  return total / static_cast<double>(n);
}

double forward_backward(const float* x, const i64* labels, i64 n,
                        const std::vector<DenseLayer>& layers, Activation act) {
  const int threads = forward_backward_threads(n, layers, num_threads());
  std::vector<double>& row_loss = row_loss_buffer(n);
  run_team(threads, [&](const Team& team) {
    forward_backward_on(team, x, labels, n, layers, act, row_loss.data());
  });
  return mean(row_loss, n);
}

}  // namespace fastmlp
