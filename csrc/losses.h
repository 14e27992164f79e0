// The MSE and sigmoid binary cross-entropy losses in float32 on validated arguments.
// Each row's loss is computed on one thread and the rows are summed in order, so the
// loss does not depend on the thread count.
#pragma once
#include <cstdint>

namespace fastmlp {

// torch's MSELoss against onehot(labels): returns sum((out - onehot)^2) / (n * classes)
// and writes grad = 2 (out - onehot) / (n * classes).
double mse_loss(const float* outputs, const std::int64_t* labels, std::int64_t n,
                std::int64_t classes, float* grad);

// BCEWithLogitsLoss of logits[n, 1] against labels in {0, 1}: returns
// mean(max(z, 0) - y z + log1p(exp(-|z|))), writes grad = (sigmoid(z) - y) / n.
double sigmoid_binary_cross_entropy(const float* logits, const std::int64_t* labels,
                                    std::int64_t n, float* grad);

}  // namespace fastmlp
