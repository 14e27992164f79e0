// Bindings of the training-layer kernels (activation forward, dropout, MSE and sigmoid
// BCE losses, batch norm, SGD / RMSprop / AdamW), registered on fastmlp._cpp.
#pragma once
#include <pybind11/pybind11.h>

namespace fastmlp {

void bind_training_kernels(pybind11::module_& mod);

}  // namespace fastmlp
