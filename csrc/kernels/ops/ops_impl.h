// Portable implementations of the Ops kernels, written as simple loops the compiler
// vectorizes. Included by exactly one translation unit per ISA (ops_<isa>.cpp), each
// compiled with its own -m flags and -ffp-contract=off, so every operation rounds once,
// in the same order as the NumPy oracle. Internal linkage throughout: one
// ISA's copy must never stand in for another's (so: builtins, not inline std:: helpers).
#pragma once
#include <cstdint>

#include "kernels/ops/activation.h"
#include "kernels/ops/ops.h"
#include "kernels/ops/vecmath.h"

namespace fastmlp {
namespace {

using i64 = std::int64_t;

// act(x), as the NumPy oracle computes it.
template <Activation A>
inline float activate(float x) {
  if constexpr (A == Activation::relu) return x < 0.0f ? 0.0f : x;  // keeps NaN, like np.maximum
  if constexpr (A == Activation::leaky_relu) return x * (x > 0.0f ? 1.0f : kLeakyReluSlope);
  if constexpr (A == Activation::sigmoid) return sigmoid_f32(x);
  if constexpr (A == Activation::tanh) return tanh_f32(x);
  return x;
}

// grad * act'(.), from ref = act(pre) (relu-like: pre works too), as the NumPy oracle.
template <Activation A>
inline float times_derivative(float grad, float ref) {
  if constexpr (A == Activation::relu) return grad * (ref > 0.0f ? 1.0f : 0.0f);
  if constexpr (A == Activation::leaky_relu) return grad * (ref > 0.0f ? 1.0f : kLeakyReluSlope);
  if constexpr (A == Activation::sigmoid) return grad * (ref * (1.0f - ref));
  if constexpr (A == Activation::tanh) return grad * (1.0f - ref * ref);
  return grad;
}

template <Activation A>
void bias_activation_rows(const float* bias, float* pre, i64 ldp, float* out, i64 ldo, i64 rows,
                          i64 cols) {
  for (i64 r = 0; r < rows; ++r) {
    float* p = pre + r * ldp;
    float* o = out + r * ldo;
#pragma omp simd
    for (i64 j = 0; j < cols; ++j) {
      const float z = p[j] + bias[j];
      p[j] = z;
      o[j] = activate<A>(z);
    }
  }
}

void bias_activation(Activation act, const float* bias, float* pre, i64 ldp, float* out, i64 ldo,
                     i64 rows, i64 cols) {
  switch (act) {
    case Activation::identity: return bias_activation_rows<Activation::identity>(bias, pre, ldp, out, ldo, rows, cols);
    case Activation::relu: return bias_activation_rows<Activation::relu>(bias, pre, ldp, out, ldo, rows, cols);
    case Activation::leaky_relu: return bias_activation_rows<Activation::leaky_relu>(bias, pre, ldp, out, ldo, rows, cols);
    case Activation::sigmoid: return bias_activation_rows<Activation::sigmoid>(bias, pre, ldp, out, ldo, rows, cols);
    case Activation::tanh: return bias_activation_rows<Activation::tanh>(bias, pre, ldp, out, ldo, rows, cols);
  }
}

template <Activation A>
void activation_backward_rows(const float* grad, i64 ldg, const float* ref, i64 ldr, float* out,
                              i64 ldo, i64 rows, i64 cols) {
  for (i64 r = 0; r < rows; ++r) {
    const float* g = grad + r * ldg;
    const float* f = ref + r * ldr;
    float* o = out + r * ldo;
#pragma omp simd
    for (i64 j = 0; j < cols; ++j) o[j] = times_derivative<A>(g[j], f[j]);
  }
}

void copy_rows(const float* src, i64 lds, float* dst, i64 ldd, i64 rows, i64 cols) {
  if (src == dst && lds == ldd) return;
  for (i64 r = 0; r < rows; ++r) {
#pragma omp simd
    for (i64 j = 0; j < cols; ++j) dst[r * ldd + j] = src[r * lds + j];
  }
}

void activation_backward(Activation act, const float* grad, i64 ldg, const float* ref, i64 ldr,
                         float* out, i64 ldo, i64 rows, i64 cols) {
  switch (act) {
    case Activation::identity: return copy_rows(grad, ldg, out, ldo, rows, cols);
    case Activation::relu: return activation_backward_rows<Activation::relu>(grad, ldg, ref, ldr, out, ldo, rows, cols);
    case Activation::leaky_relu: return activation_backward_rows<Activation::leaky_relu>(grad, ldg, ref, ldr, out, ldo, rows, cols);
    case Activation::sigmoid: return activation_backward_rows<Activation::sigmoid>(grad, ldg, ref, ldr, out, ldo, rows, cols);
    case Activation::tanh: return activation_backward_rows<Activation::tanh>(grad, ldg, ref, ldr, out, ldo, rows, cols);
  }
}

void column_sums(const float* g, i64 ldg, i64 rows, i64 cols, float* out) {
#pragma omp simd
  for (i64 j = 0; j < cols; ++j) out[j] = 0.0f;
  for (i64 i = 0; i < rows; ++i) {
    const float* row = g + i * ldg;
#pragma omp simd
    for (i64 j = 0; j < cols; ++j) out[j] += row[j];
  }
}

// Rows go in chunks of 16 lanes (lane l takes elements l, l+16, ...), the last chunk copied
// and padded with -inf (whose exp is 0), and lanes are combined in a fixed order at the end:
// the loops vectorize without reassociating sums, and no result depends on the thread count.
constexpr int kLanes = 16;

// The 16 logits from z[j] on, padded past the row's end.
inline const float* lanes_at(const float* z, i64 j, i64 classes, float* tail) {
  if (classes - j >= kLanes) return z + j;
  for (int l = 0; l < kLanes; ++l) tail[l] = l < classes - j ? z[j + l] : -__builtin_inff();
  return tail;
}

double softmax_xent_row(const float* z, i64 classes, i64 label, float n, float* grad) {
  alignas(64) float lane_max[kLanes], lane_sum[kLanes], e[kLanes], tail[kLanes];
  for (int l = 0; l < kLanes; ++l) lane_max[l] = -__builtin_inff(), lane_sum[l] = 0.0f;
  for (i64 j = 0; j < classes; j += kLanes) {
    const float* v = lanes_at(z, j, classes, tail);
#pragma omp simd
    for (int l = 0; l < kLanes; ++l) lane_max[l] = v[l] > lane_max[l] ? v[l] : lane_max[l];
  }
  float mx = lane_max[0];
  for (int l = 1; l < kLanes; ++l) mx = lane_max[l] > mx ? lane_max[l] : mx;

  for (i64 j = 0; j < classes; j += kLanes) {
    const float* v = lanes_at(z, j, classes, tail);
#pragma omp simd
    for (int l = 0; l < kLanes; ++l) {
      e[l] = exp_f32(v[l] - mx);
      lane_sum[l] += e[l];
    }
    for (int l = 0; l < kLanes && j + l < classes; ++l) grad[j + l] = e[l];
  }
  float sum = lane_sum[0];
  for (int l = 1; l < kLanes; ++l) sum += lane_sum[l];

  // grad = (e / sum - onehot) / n, rounding like the oracle's three in-place steps
  const float e_label = grad[label];
#pragma omp simd
  for (i64 j = 0; j < classes; ++j) grad[j] = grad[j] / sum / n;
  grad[label] = (e_label / sum - 1.0f) / n;
  return __builtin_log(static_cast<double>(sum)) - static_cast<double>(z[label] - mx);
}

template <bool WeightDecay>
void adam_loop(float* param, const float* grad, float* m, float* v, i64 n, const AdamCoeffs& k) {
  const float b1 = k.beta1, c1 = k.one_minus_beta1, b2 = k.beta2, c2 = k.one_minus_beta2;
  const float wd = k.weight_decay, step = k.step_size, inv_sqrt_bc2 = k.inv_sqrt_bias2;
  const float eps = k.eps;
#pragma omp simd
  for (i64 i = 0; i < n; ++i) {
    const float g = WeightDecay ? grad[i] + wd * param[i] : grad[i];
    const float mi = b1 * m[i] + c1 * g;
    const float vi = b2 * v[i] + c2 * (g * g);
    m[i] = mi;
    v[i] = vi;
    param[i] -= mi / (__builtin_sqrtf(vi) * inv_sqrt_bc2 + eps) * step;
  }
}

void adam(float* param, const float* grad, float* m, float* v, i64 n, const AdamCoeffs& k) {
  if (k.weight_decay != 0.0f)
    adam_loop<true>(param, grad, m, v, n, k);
  else
    adam_loop<false>(param, grad, m, v, n, k);
}

}  // namespace
}  // namespace fastmlp

// activation forward, dropout, losses, batch norm, SGD/RMSprop/AdamW (uses activate<> above)
#include "kernels/ops/ops_train_impl.h"

namespace fastmlp {
namespace {

const Ops kOps = {bias_activation, activation_backward, column_sums, softmax_xent_row, adam,
                  activation_forward, dropout, mse_rows, sigmoid_bce, batch_norm_forward,
                  batch_norm_inference, batch_norm_backward, sgd, rmsprop, adamw};

}  // namespace
}  // namespace fastmlp
