// pybind11 bindings for fastmlp._cpp. Every entry point re-checks dtype, contiguity,
// writability, shapes and aliasing before touching memory, so no Python input can crash
// the interpreter, and releases the GIL while the kernel runs.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "dispatch.h"
#include "kernels.h"

namespace py = pybind11;
using fastmlp::Isa;

namespace {

// Views a float32 C-contiguous array; raises TypeError/ValueError naming the argument.
float* f32(const py::array& a, const char* name, bool writable) {
  if (!py::isinstance<py::array_t<float>>(a) || a.dtype().kind() != 'f' || a.itemsize() != 4)
    throw py::type_error(std::string(name) + " must be a float32 array, got dtype " +
                         std::string(py::str(a.dtype())));
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string(name) + " must be C-contiguous");
  if (writable && !a.writeable()) throw py::value_error(std::string(name) + " must be writable");
  return static_cast<float*>(const_cast<void*>(a.data()));
}

void same_size(const py::array& a, const char* an, const py::array& b, const char* bn) {
  if (a.size() != b.size())
    throw py::value_error(std::string(bn) + " has " + std::to_string(b.size()) +
                          " elements but " + an + " has " + std::to_string(a.size()));
}

// Byte ranges overlap?
bool overlaps(const py::array& a, const py::array& b) {
  auto pa = static_cast<const char*>(a.data()), pb = static_cast<const char*>(b.data());
  return pa < pb + b.nbytes() && pb < pa + a.nbytes() && a.nbytes() > 0 && b.nbytes() > 0;
}

void no_alias(const py::array& out, const char* on, const py::array& in, const char* in_name) {
  if (overlaps(out, in))
    throw py::value_error(std::string(on) + " must not overlap " + in_name);
}

void adam_step(py::array param, py::array grad, py::array m, py::array v, double lr,
               double beta1, double beta2, double eps, std::int64_t step, double weight_decay) {
  float* p = f32(param, "param", true);
  const float* g = f32(grad, "grad", false);
  float* mp = f32(m, "m", true);
  float* vp = f32(v, "v", true);
  same_size(param, "param", grad, "grad");
  same_size(param, "param", m, "m");
  same_size(param, "param", v, "v");
  no_alias(param, "param", grad, "grad");
  no_alias(param, "param", m, "m");
  no_alias(param, "param", v, "v");
  no_alias(m, "m", v, "v");
  no_alias(m, "m", grad, "grad");
  no_alias(v, "v", grad, "grad");
  if (step < 1) throw py::value_error("step must be >= 1, got " + std::to_string(step));
  const std::int64_t n = param.size();
  py::gil_scoped_release release;
  fastmlp::adam_step(p, g, mp, vp, n, lr, beta1, beta2, eps, step, weight_decay);
}

}  // namespace

PYBIND11_MODULE(_cpp, mod) {
  mod.doc() = "fastmlp's C++ kernels (float32, OpenMP, run-time ISA dispatch)";
  mod.def("adam_step", &adam_step, py::arg("param"), py::arg("grad"), py::arg("m"), py::arg("v"),
          py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("step"),
          py::arg("weight_decay") = 0.0);
  mod.def("isa", [] { return std::string(fastmlp::isa_name(fastmlp::active_isa())); },
          "ISA of the kernels in use: avx512, avx2 or generic");
  mod.def("set_isa", &fastmlp::set_isa, py::arg("name"),
          "Use a lower ISA path (for testing); ValueError if the CPU lacks it");
  mod.def("cpu_supports", [](const std::string& name) {
    if (name == "avx512") return fastmlp::cpu_supports(Isa::avx512);
    if (name == "avx2") return fastmlp::cpu_supports(Isa::avx2);
    if (name == "generic") return true;
    throw py::value_error("unknown ISA '" + name + "'; expected one of avx512, avx2, generic");
  });
  mod.def("num_threads", &fastmlp::num_threads);
  mod.def("set_num_threads", &fastmlp::set_num_threads, py::arg("n"));
  mod.def("flush_denormals", &fastmlp::flush_denormals);
  mod.def("set_flush_denormals", &fastmlp::set_flush_denormals, py::arg("on"));
}
