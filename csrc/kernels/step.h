// Whole training steps of a plain MLP in one native call, on arguments the bindings have
// checked: forward_backward (Backend.forward_backward) and a chunk of Adam steps
// (Backend.adam_train_steps). Each runs its stages on ONE OpenMP team, separated by team
// barriers: a step costs no Python call and no fork/join. Every result is bitwise the
// same for any team size.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/ops/activation.h"

namespace fastmlp {

struct DenseLayer {
  std::int64_t in, out;
  const float* w;  // [out, in]
  const float* b;  // [out]
  float* w_grad;   // [out, in]
  float* b_grad;   // [out]
  float* act;      // [n, out] layer output
  float* grad;     // [n, out] scratch: d(loss)/d(pre-activation)
};

// Forward and backward pass: `act` on hidden layers, identity on the last, softmax
// cross-entropy loss (returned). Throws std::invalid_argument if a label was out of range
// when read.
double forward_backward(const float* x, const std::int64_t* labels, std::int64_t n,
                        const std::vector<DenseLayer>& layers, Activation act);

struct TrainSteps {
  const float* x = nullptr;              // [rows, in] the whole training set
  const std::int64_t* labels = nullptr;  // [rows]
  std::int64_t rows = 0, in = 0;
  const std::int64_t* order = nullptr;  // [order_len] row indices, each in [0, rows)
  std::int64_t order_len = 0;
  std::int64_t start = 0, batch = 0, steps = 0;  // step s reads order[start + s * batch ...]
  float* xb = nullptr;                // [batch, in] gathered rows
  std::int64_t* yb = nullptr;         // [batch] gathered labels
  std::vector<DenseLayer> layers;     // act and grad have `batch` rows
  Activation act = Activation::relu;
  float* params = nullptr;            // [count] the flat parameters the layers' w and b view
  float* param_grads = nullptr;       // [count] the flat gradients w_grad and b_grad view
  float* m = nullptr;
  float* v = nullptr;
  std::int64_t count = 0;
  double lr = 0, beta1 = 0, beta2 = 0, eps = 0, weight_decay = 0;
  std::int64_t t0 = 0;                // step s is Adam step t0 + s + 1
  double* losses = nullptr;           // [steps] each step's mean loss
  std::int64_t* correct = nullptr;    // [steps] or null: rows whose logits' argmax is the label
};

// Per step: gather a minibatch by index, forward_backward, then one Adam step over the
// flat parameters; with `correct`, also how many of the step's rows its forward pass
// classified right (argmax as NumPy's: the first maximum, a NaN counting as the maximum).
// Bitwise the same results as `steps` calls of forward_backward and adam_step. Throws
// std::invalid_argument (after stopping at the step where it happened) if an order entry
// or label was out of range when read.
void adam_train_steps(const TrainSteps& a);

}  // namespace fastmlp
