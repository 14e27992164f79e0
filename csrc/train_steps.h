// Several Adam training steps of a plain MLP in one call (Backend.adam_train_steps): per
// step, gather a minibatch by index, run forward_backward, then one Adam step over the
// flat parameters. The whole chunk runs on ONE OpenMP team, so a step costs no Python call
// and no fork/join, only the team barriers between stages.
#pragma once
#include <cstdint>
#include <vector>

#include "activation.h"
#include "kernels.h"

namespace fastmlp {

struct TrainSteps {
  const float* x = nullptr;           // [rows, in] the whole training set
  const std::int64_t* labels = nullptr;  // [rows]
  std::int64_t in = 0;
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
};

// On validated arguments (train_steps_bindings.cpp checks them): bitwise the same results
// as `steps` calls of forward_backward and adam_step, for any team size.
void adam_train_steps(const TrainSteps& a);

}  // namespace fastmlp
