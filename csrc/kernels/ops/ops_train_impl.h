// Portable implementations of the training-layer Ops (activation forward, dropout, the MSE
// and sigmoid-BCE losses, batch norm, SGD / RMSprop / AdamW). Included once, by ops_impl.h,
// into each ISA's translation unit (compiled with that ISA's flags and -ffp-contract=off):
// every operation rounds once, in the NumPy oracle's order, so the float32
// results match it bitwise except where a transcendental function (exp, log1p, tanh) is
// our own polynomial. Internal linkage throughout, like ops_impl.h.
//
// Reductions never depend on how a kernel is split over threads: batch norm sums each
// column over its rows in row order (threads take whole columns), and the losses return
// one value per row, summed in order by the caller.
#pragma once
#include <cstdint>

#include "kernels/ops/activation.h"
#include "kernels/ops/ops.h"
#include "kernels/ops/vecmath.h"

namespace fastmlp {
namespace {

using i64 = std::int64_t;

// -- activation forward, dropout ------------------------------------------------------
template <Activation A>
void activation_forward_loop(const float* x, float* out, i64 n) {
#pragma omp simd
  for (i64 i = 0; i < n; ++i) out[i] = activate<A>(x[i]);
}

void activation_forward(Activation act, const float* x, float* out, i64 n) {
  switch (act) {
    case Activation::identity: return copy_rows(x, n, out, n, 1, n);
    case Activation::relu: return activation_forward_loop<Activation::relu>(x, out, n);
    case Activation::leaky_relu: return activation_forward_loop<Activation::leaky_relu>(x, out, n);
    case Activation::sigmoid: return activation_forward_loop<Activation::sigmoid>(x, out, n);
    case Activation::tanh: return activation_forward_loop<Activation::tanh>(x, out, n);
  }
}

// As the oracle: x times the boolean mask (x * 1 or x * 0: signed zeros and NaN as NumPy),
// then times the float32 scale; the comparison is in float32, as NumPy compares.
void dropout(const float* x, const float* noise, float p, float scale, float* out, i64 n) {
#pragma omp simd
  for (i64 i = 0; i < n; ++i) out[i] = (x[i] * (noise[i] >= p ? 1.0f : 0.0f)) * scale;
}

// -- losses ---------------------------------------------------------------------------
constexpr int kLossLanes = 8;  // double lanes of a row's sum, combined in a fixed order

void mse_rows(const float* out, const i64* labels, i64 rows, i64 classes, float scale,
              float* grad, double* row_loss) {
  for (i64 r = 0; r < rows; ++r) {
    const float* o = out + r * classes;
    float* g = grad + r * classes;
    const i64 label = labels[r];
    alignas(64) double lane[kLossLanes] = {};
    i64 j = 0;
    for (; j + kLossLanes <= classes; j += kLossLanes) {
#pragma omp simd
      for (int l = 0; l < kLossLanes; ++l) {
        const float d = o[j + l] - (j + l == label ? 1.0f : 0.0f);
        lane[l] += static_cast<double>(d) * static_cast<double>(d);  // exact square
        g[j + l] = d * scale;
      }
    }
    for (int l = 0; j < classes; ++j, ++l) {
      const float d = o[j] - (j == label ? 1.0f : 0.0f);
      lane[l] += static_cast<double>(d) * static_cast<double>(d);
      g[j] = d * scale;
    }
    double sum = lane[0];
    for (int l = 1; l < kLossLanes; ++l) sum += lane[l];
    row_loss[r] = sum;
  }
}

void sigmoid_bce(const float* z, const i64* labels, i64 n, float scale, float* grad,
                 double* loss) {
#pragma omp simd
  for (i64 i = 0; i < n; ++i) {
    const float x = z[i];
    const float y = labels[i] != 0 ? 1.0f : 0.0f;
    const float e = exp_f32(-__builtin_fabsf(x));  // exp of a non-positive number only
    const float s = (x >= 0.0f ? 1.0f : e) / (1.0f + e);
    grad[i] = (s - y) * scale;
    const float pos = x < 0.0f ? 0.0f : x;  // np.maximum(z, 0), NaN kept
    loss[i] = static_cast<double>((pos - y * x) + log1p_f32(e));
  }
}

// -- batch norm -----------------------------------------------------------------------
// Columns are processed in blocks whose rows stay in cache across the passes.
constexpr i64 kBnCols = 256;

inline i64 min_i64(i64 a, i64 b) { return a < b ? a : b; }

void batch_norm_forward(const float* x, i64 ld, i64 rows, i64 cols, const float* gamma,
                        const float* beta, float* out, float* mean, float* invstd,
                        float* running_mean, float* running_var, const BatchNormCoeffs& k) {
  alignas(64) float mu[kBnCols], acc[kBnCols], var[kBnCols], scale[kBnCols];
  for (i64 c0 = 0; c0 < cols; c0 += kBnCols) {
    const i64 w = min_i64(kBnCols, cols - c0);
    const float* xb = x + c0;
    float* ob = out + c0;
    // mean = (column sum in row order) / n, as np.mean
    column_sums(xb, ld, rows, w, acc);
#pragma omp simd
    for (i64 j = 0; j < w; ++j) {
      mu[j] = acc[j] / k.n;
      acc[j] = 0.0f;
    }
    // biased variance: mean of the squared centered values
    for (i64 r = 0; r < rows; ++r) {
      const float* row = xb + r * ld;
#pragma omp simd
      for (i64 j = 0; j < w; ++j) {
        const float c = row[j] - mu[j];
        acc[j] += c * c;
      }
    }
#pragma omp simd
    for (i64 j = 0; j < w; ++j) {
      var[j] = acc[j] / k.n;
      const float inv = 1.0f / __builtin_sqrtf(var[j] + k.eps);
      invstd[c0 + j] = inv;
      mean[c0 + j] = mu[j];
      scale[j] = inv * gamma[c0 + j];
    }
    for (i64 r = 0; r < rows; ++r) {
      const float* row = xb + r * ld;
      float* o = ob + r * ld;
#pragma omp simd
      for (i64 j = 0; j < w; ++j) o[j] = (row[j] - mu[j]) * scale[j] + beta[c0 + j];
    }
#pragma omp simd
    for (i64 j = 0; j < w; ++j) {
      running_mean[c0 + j] = running_mean[c0 + j] * k.keep + k.momentum * mu[j];
      running_var[c0 + j] = running_var[c0 + j] * k.keep + k.var_momentum * var[j];
    }
  }
}

void batch_norm_inference(const float* x, i64 ld, i64 rows, i64 cols, const float* gamma,
                          const float* beta, const float* running_mean, const float* running_var,
                          float eps, float* out) {
  alignas(64) float scale[kBnCols];
  for (i64 c0 = 0; c0 < cols; c0 += kBnCols) {
    const i64 w = min_i64(kBnCols, cols - c0);
    const float* rm = running_mean + c0;
    const float* b = beta + c0;
#pragma omp simd
    for (i64 j = 0; j < w; ++j) scale[j] = gamma[c0 + j] / __builtin_sqrtf(running_var[c0 + j] + eps);
    for (i64 r = 0; r < rows; ++r) {
      const float* row = x + r * ld + c0;
      float* o = out + r * ld + c0;
#pragma omp simd
      for (i64 j = 0; j < w; ++j) o[j] = (row[j] - rm[j]) * scale[j] + b[j];
    }
  }
}

void batch_norm_backward(const float* grad, const float* x, i64 ld, i64 rows, i64 cols,
                         const float* gamma, const float* mean, const float* invstd, float inv_n,
                         float* grad_x, float* grad_gamma, float* grad_beta) {
  alignas(64) float sum_g[kBnCols], sum_gx[kBnCols], mu[kBnCols], inv[kBnCols];
  alignas(64) float beta_n[kBnCols], gamma_n[kBnCols], scale[kBnCols];
  for (i64 c0 = 0; c0 < cols; c0 += kBnCols) {
    const i64 w = min_i64(kBnCols, cols - c0);
#pragma omp simd
    for (i64 j = 0; j < w; ++j) {
      sum_g[j] = 0.0f, sum_gx[j] = 0.0f;
      mu[j] = mean[c0 + j], inv[j] = invstd[c0 + j];
    }
    // both sums before anything is written: grad_x may be grad
    for (i64 r = 0; r < rows; ++r) {
      const float* g = grad + r * ld + c0;
      const float* xr = x + r * ld + c0;
#pragma omp simd
      for (i64 j = 0; j < w; ++j) {
        const float xhat = (xr[j] - mu[j]) * inv[j];
        sum_g[j] += g[j];
        sum_gx[j] += g[j] * xhat;
      }
    }
#pragma omp simd
    for (i64 j = 0; j < w; ++j) {
      grad_beta[c0 + j] = sum_g[j];
      grad_gamma[c0 + j] = sum_gx[j];
      beta_n[j] = sum_g[j] * inv_n;
      gamma_n[j] = sum_gx[j] * inv_n;
      scale[j] = gamma[c0 + j] * inv[j];
    }
    // grad_x = ((g - sum_g / n) - xhat * (sum_gx / n)) * (gamma * invstd), the oracle's order
    for (i64 r = 0; r < rows; ++r) {
      const float* g = grad + r * ld + c0;
      const float* xr = x + r * ld + c0;
      float* gx = grad_x + r * ld + c0;
#pragma omp simd
      for (i64 j = 0; j < w; ++j) {
        const float xhat = (xr[j] - mu[j]) * inv[j];
        gx[j] = ((g[j] - beta_n[j]) - xhat * gamma_n[j]) * scale[j];
      }
    }
  }
}

// -- optimizers -----------------------------------------------------------------------
template <bool WeightDecay, bool Momentum, bool Nesterov>
void sgd_loop(float* param, const float* grad, float* buf, i64 n, const SgdCoeffs& k) {
  const float lr = k.lr, mom = k.momentum, wd = k.weight_decay;
#pragma omp simd
  for (i64 i = 0; i < n; ++i) {
    float g = WeightDecay ? grad[i] + wd * param[i] : grad[i];
    if constexpr (Momentum) {
      const float b = buf[i] * mom + g;
      buf[i] = b;
      g = Nesterov ? g + mom * b : b;
    }
    param[i] -= lr * g;
  }
}

template <bool WeightDecay>
void sgd_momentum(float* param, const float* grad, float* buf, i64 n, const SgdCoeffs& k) {
  if (!k.use_momentum) return sgd_loop<WeightDecay, false, false>(param, grad, buf, n, k);
  if (k.nesterov) return sgd_loop<WeightDecay, true, true>(param, grad, buf, n, k);
  sgd_loop<WeightDecay, true, false>(param, grad, buf, n, k);
}

void sgd(float* param, const float* grad, float* buf, i64 n, const SgdCoeffs& k) {
  if (k.use_weight_decay)
    sgd_momentum<true>(param, grad, buf, n, k);
  else
    sgd_momentum<false>(param, grad, buf, n, k);
}

template <bool WeightDecay, bool Momentum>
void rmsprop_loop(float* param, const float* grad, float* square_avg, float* buf, i64 n,
                  const RmspropCoeffs& k) {
  const float lr = k.lr, alpha = k.alpha, c = k.one_minus_alpha, eps = k.eps;
  const float mom = k.momentum, wd = k.weight_decay;
#pragma omp simd
  for (i64 i = 0; i < n; ++i) {
    const float g = WeightDecay ? grad[i] + wd * param[i] : grad[i];
    const float sa = square_avg[i] * alpha + c * (g * g);
    square_avg[i] = sa;
    float d = g / (__builtin_sqrtf(sa) + eps);
    if constexpr (Momentum) {
      d = buf[i] * mom + d;
      buf[i] = d;
    }
    param[i] -= lr * d;
  }
}

void rmsprop(float* param, const float* grad, float* square_avg, float* buf, i64 n,
             const RmspropCoeffs& k) {
  if (k.use_weight_decay) {
    if (k.use_momentum) return rmsprop_loop<true, true>(param, grad, square_avg, buf, n, k);
    return rmsprop_loop<true, false>(param, grad, square_avg, buf, n, k);
  }
  if (k.use_momentum) return rmsprop_loop<false, true>(param, grad, square_avg, buf, n, k);
  rmsprop_loop<false, false>(param, grad, square_avg, buf, n, k);
}

// The oracle's two passes (param *= decay; Adam) fused: the same roundings in one pass.
void adamw(float* param, const float* grad, float* m, float* v, i64 n, const AdamCoeffs& k,
           float decay) {
  const float b1 = k.beta1, c1 = k.one_minus_beta1, b2 = k.beta2, c2 = k.one_minus_beta2;
  const float step = k.step_size, inv_sqrt_bc2 = k.inv_sqrt_bias2, eps = k.eps;
#pragma omp simd
  for (i64 i = 0; i < n; ++i) {
    const float g = grad[i];
    const float mi = b1 * m[i] + c1 * g;
    const float vi = b2 * v[i] + c2 * (g * g);
    m[i] = mi;
    v[i] = vi;
    param[i] = param[i] * decay - mi / (__builtin_sqrtf(vi) * inv_sqrt_bc2 + eps) * step;
  }
}

}  // namespace
}  // namespace fastmlp
