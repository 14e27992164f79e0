// Registers the GEMM's descriptive functions on fastmlp._cpp (gemm_bindings.cpp).
#pragma once
#include <pybind11/pybind11.h>

namespace fastmlp {

void bind_gemm_info(pybind11::module_& mod);

}  // namespace fastmlp
