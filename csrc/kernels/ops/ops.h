// Elementwise, row and column kernels, compiled once per ISA (ops_<isa>.cpp) from the
// portable code in ops_impl.h, and picked at run time like the GEMM microkernels.
// All pointers are float32 row-major blocks; `ld*` are row strides in elements.
#pragma once
#include <cstdint>

#include "kernels/ops/activation.h"

namespace fastmlp {

// torch.optim.Adam's per-step constants, rounded to float32 the way NumPy's oracle does.
struct AdamCoeffs {
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float weight_decay;
  float step_size;       // lr / (1 - beta1^step)
  float inv_sqrt_bias2;  // 1 / sqrt(1 - beta2^step)
  float eps;
};

// torch.optim.SGD's constants (dampening 0), as float32; the flags follow the double values.
struct SgdCoeffs {
  float lr, momentum, weight_decay;
  bool use_momentum, nesterov, use_weight_decay;
};

// torch.optim.RMSprop's constants (centered=False); one_minus_alpha is rounded from double.
struct RmspropCoeffs {
  float lr, alpha, one_minus_alpha, eps, momentum, weight_decay;
  bool use_momentum, use_weight_decay;
};

// Batch norm's per-batch constants: n rows, eps, and the running-statistics update
// rm = keep * rm + momentum * mean, rv = keep * rv + var_momentum * var.
struct BatchNormCoeffs {
  float n, eps;
  float keep;          // 1 - momentum
  float momentum;
  float var_momentum;  // momentum * n / (n - 1): the unbiased variance enters the average
};

struct Ops {
  // pre += bias (per column), then out = act(pre); out may be pre itself.
  void (*bias_activation)(Activation act, const float* bias, float* pre, std::int64_t ldp,
                          float* out, std::int64_t ldo, std::int64_t rows, std::int64_t cols);
  // out = grad * act'(.) computed from ref: the layer output (or, relu-like, its input).
  // out may be grad itself.
  void (*activation_backward)(Activation act, const float* grad, std::int64_t ldg,
                              const float* ref, std::int64_t ldr, float* out, std::int64_t ldo,
                              std::int64_t rows, std::int64_t cols);
  // out[j] = sum over rows of g[i][j], rows added in order.
  void (*column_sums)(const float* g, std::int64_t ldg, std::int64_t rows, std::int64_t cols,
                      float* out);
  // One row of softmax cross-entropy: grad = (softmax(z) - onehot(label)) / n.
  // Returns the row's loss log(sum(exp(z - max))) - (z[label] - max).
  double (*softmax_xent_row)(const float* z, std::int64_t classes, std::int64_t label, float n,
                             float* grad);
  // One Adam step over n elements, in place.
  void (*adam)(float* param, const float* grad, float* m, float* v, std::int64_t n,
               const AdamCoeffs& k);

  // -- training-layer ops (ops_train_impl.h) --------------------------------------------
  // out = act(x) over n elements; out may be x.
  void (*activation_forward)(Activation act, const float* x, float* out, std::int64_t n);
  // out = x * [noise >= p] * scale over n elements; out may be x.
  void (*dropout)(const float* x, const float* noise, float p, float scale, float* out,
                  std::int64_t n);
  // MSE against one-hot rows: grad = (out - onehot) * scale; row_loss[r] = sum of the
  // squared differences (in double) of row r.
  void (*mse_rows)(const float* out, const std::int64_t* labels, std::int64_t rows,
                   std::int64_t classes, float scale, float* grad, double* row_loss);
  // Sigmoid binary cross-entropy of n logits: grad = (sigmoid(z) - y) * scale;
  // loss[i] = max(z,0) - y z + log1p(exp(-|z|)) (float32, widened).
  void (*sigmoid_bce)(const float* z, const std::int64_t* labels, std::int64_t n, float scale,
                      float* grad, double* loss);
  // Training batch norm of the `cols` columns of x[rows, ld] (and of out, gamma, ..., which
  // point at the same first column): batch statistics in row order, out, running stats.
  void (*batch_norm_forward)(const float* x, std::int64_t ld, std::int64_t rows,
                             std::int64_t cols, const float* gamma, const float* beta,
                             float* out, float* mean, float* invstd, float* running_mean,
                             float* running_var, const BatchNormCoeffs& k);
  // out = (x - running_mean) * (gamma / sqrt(running_var + eps)) + beta over a block.
  void (*batch_norm_inference)(const float* x, std::int64_t ld, std::int64_t rows,
                               std::int64_t cols, const float* gamma, const float* beta,
                               const float* running_mean, const float* running_var, float eps,
                               float* out);
  // Batch norm backward over a block of columns; grad_x may be grad. inv_n = 1/N.
  void (*batch_norm_backward)(const float* grad, const float* x, std::int64_t ld,
                              std::int64_t rows, std::int64_t cols, const float* gamma,
                              const float* mean, const float* invstd, float inv_n,
                              float* grad_x, float* grad_gamma, float* grad_beta);
  // One SGD / RMSprop step over n elements, in place (buf unused without momentum).
  void (*sgd)(float* param, const float* grad, float* buf, std::int64_t n, const SgdCoeffs& k);
  void (*rmsprop)(float* param, const float* grad, float* square_avg, float* buf,
                  std::int64_t n, const RmspropCoeffs& k);
  // One AdamW step: param *= decay (1 - lr * weight_decay), then Adam without L2 term.
  void (*adamw)(float* param, const float* grad, float* m, float* v, std::int64_t n,
                const AdamCoeffs& k, float decay);
};

const Ops& ops_avx512();
const Ops& ops_avx2();
const Ops& ops_generic();

}  // namespace fastmlp
