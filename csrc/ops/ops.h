// Elementwise, row and column kernels, compiled once per ISA (ops_<isa>.cpp) from the
// portable code in ops_impl.h, and picked at run time like the GEMM microkernels.
// All pointers are float32 row-major blocks; `ld*` are row strides in elements.
#pragma once
#include <cstdint>

#include "activation.h"

namespace fastmlp {

// torch.optim.Adam's per-step constants, rounded to float32 the way NumPy's oracle does.
struct AdamCoeffs {
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float weight_decay;
  float step_size;       // lr / (1 - beta1^step)
  float inv_sqrt_bias2;  // 1 / sqrt(1 - beta2^step)
  float eps;
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
};

const Ops& ops_avx512();
const Ops& ops_avx2();
const Ops& ops_generic();

}  // namespace fastmlp
