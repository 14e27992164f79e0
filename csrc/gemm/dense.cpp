#include "gemm/dense.h"

#include "runtime/parallel.h"

namespace fastmlp {

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

void dense_forward(const float* x, const float* w, const float* b, float* out, float* pre, i64 n,
                   i64 k, i64 f, Activation act) {
  gemm(dense_forward_problem(x, w, b, out, pre, n, k, f, act));
}

void bias_grad_on(const Team& team, const float* grad, i64 rows, i64 cols, float* out,
                  int first) {
  const int used = elementwise_threads(static_cast<double>(rows * cols), team.size);
  const int rank = team.rank(used, first);
  if (rank < 0) return;
  const Range c = split(cols, used, rank, kAlign);
  if (c.size() > 0) active_ops().column_sums(grad + c.begin, cols, rows, c.size(), out + c.begin);
}

void bias_grad(const float* grad, i64 rows, i64 cols, float* out) {
  run_team(elementwise_threads(static_cast<double>(rows * cols), num_threads()),
           [&](const Team& team) { bias_grad_on(team, grad, rows, cols, out); });
}

}  // namespace fastmlp
