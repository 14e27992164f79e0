// The Backend interface's kernels in float32, on validated arguments (the bindings check
// dtypes, shapes, contiguity and aliasing first). Each runs on an OpenMP team with
// denormals flushed; every result is bitwise identical for any thread count.
#pragma once
#include <cstdint>
#include <vector>

#include "activation.h"

namespace fastmlp {

// out[n,f] = act(x[n,k] @ w[f,k]^T + b[f]); the pre-activation goes to pre when non-null.
void dense_forward(const float* x, const float* w, const float* b, float* out, float* pre,
                   std::int64_t n, std::int64_t k, std::int64_t f, Activation act);

// out = grad * act'(.) over `count` elements; ref is out_act, or pre for relu-like
// activations (unused for identity). out may be grad.
void activation_backward(Activation act, const float* grad, const float* ref, float* out,
                         std::int64_t count);

// out[cols] = column sums of grad[rows, cols].
void bias_grad(const float* grad, std::int64_t rows, std::int64_t cols, float* out);

// Mean softmax cross-entropy of logits[n, classes] against labels (in [0, classes));
// grad = (softmax - onehot) / n.
double softmax_cross_entropy(const float* logits, const std::int64_t* labels, std::int64_t n,
                             std::int64_t classes, float* grad);

// torch.optim.Adam's rule (L2 weight decay added to the gradient, bias-corrected moments,
// eps outside the sqrt), in place, in one pass over the n elements.
void adam_step(float* param, const float* grad, float* m, float* v, std::int64_t n, double lr,
               double beta1, double beta2, double eps, std::int64_t step, double weight_decay);

struct DenseLayer {
  std::int64_t in, out;
  const float* w;  // [out, in]
  const float* b;  // [out]
  float* w_grad;   // [out, in]
  float* b_grad;   // [out]
  float* act;      // [n, out] layer output
  float* grad;     // [n, out] scratch: d(loss)/d(pre-activation)
};

// Forward and backward pass of a plain MLP on one team (see Backend.forward_backward):
// `act` on hidden layers, identity on the last, softmax cross-entropy loss (returned).
double forward_backward(const float* x, const std::int64_t* labels, std::int64_t n,
                        const std::vector<DenseLayer>& layers, Activation act);

}  // namespace fastmlp
