// The binding files of fastmlp._cpp, one per kernel family; module.cpp calls each once.
// Every entry point checks its arguments (checks.h) before touching memory, keeps its
// arrays referenced, and releases the GIL while the kernel runs.
#pragma once
#include <pybind11/pybind11.h>

#include <cstdint>

namespace fastmlp::python {

using i64 = std::int64_t;


void bind_runtime(pybind11::module_& mod);      // runtime.cpp: ISA, threads, denormals, precision
void bind_gemm(pybind11::module_& mod);         // gemm.cpp: gemm, dense, blocking
void bind_activations(pybind11::module_& mod);  // activations.cpp
void bind_losses(pybind11::module_& mod);       // losses.cpp
void bind_dropout(pybind11::module_& mod);      // dropout.cpp
void bind_batch_norm(pybind11::module_& mod);   // batch_norm.cpp
void bind_optimizers(pybind11::module_& mod);   // optimizers.cpp
void bind_step(pybind11::module_& mod);         // step.cpp: forward_backward, adam_train_steps

}  // namespace fastmlp::python
