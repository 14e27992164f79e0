// fastmlp._cpp: the one module of the C++ kernels; each family registers its functions.
#include <pybind11/pybind11.h>

#include "python/bindings.h"

PYBIND11_MODULE(_cpp, mod) {
  namespace python = fastmlp::python;
  mod.doc() = "fastmlp's C++ kernels (float32, OpenMP, run-time ISA dispatch)";
  python::bind_runtime(mod);  // first: a bad FASTMLP_ISA fails the import here
  python::bind_gemm(mod);
  python::bind_activations(mod);
  python::bind_losses(mod);
  python::bind_dropout(mod);
  python::bind_batch_norm(mod);
  python::bind_optimizers(mod);
  python::bind_step(mod);
}
