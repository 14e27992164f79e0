// The losses in float32 on arguments the bindings have checked: softmax cross-entropy,
// MSE and sigmoid binary cross-entropy. Each row's loss is computed on one thread and the
// rows are summed in order, so the loss does not depend on the thread count.
#pragma once
#include <cstdint>

#include "kernels/indices.h"
#include "runtime/team.h"

namespace fastmlp {

// Mean softmax cross-entropy of logits[n, classes] against labels (in [0, classes));
// grad = (softmax - onehot) / n. Throws std::invalid_argument if a label was out of range
// when read (labels rewritten by another thread during the call).
double softmax_cross_entropy(const float* logits, const std::int64_t* labels, std::int64_t n,
                             std::int64_t classes, float* grad);

// torch's MSELoss against onehot(labels): returns sum((out - onehot)^2) / (n * classes)
// and writes grad = 2 (out - onehot) / (n * classes).
double mse_loss(const float* outputs, const std::int64_t* labels, std::int64_t n,
                std::int64_t classes, float* grad);

// BCEWithLogitsLoss of logits[n, 1] against labels in {0, 1}: returns
// mean(max(z, 0) - y z + log1p(exp(-|z|))), writes grad = (sigmoid(z) - y) / n.
double sigmoid_binary_cross_entropy(const float* logits, const std::int64_t* labels,
                                    std::int64_t n, float* grad);

// -- team stage (kernels/step.cpp) -------------------------------------------------------
// softmax_cross_entropy's rows split over `team`; row i's loss goes to row_loss[i]. No barrier.
// A label out of range (rewritten since it was checked) marks `fault` and skips its row.
void softmax_cross_entropy_on(const Team& team, const float* logits, const std::int64_t* labels,
                              std::int64_t n, std::int64_t classes, float* grad,
                              double* row_loss, IndexFault& fault);

}  // namespace fastmlp
