// Binding of the dropout family.
#include <pybind11/numpy.h>

#include <string>
#include <vector>

#include "kernels/dropout.h"
#include "python/bindings.h"
#include "python/checks.h"

namespace py = pybind11;

namespace fastmlp::python {
namespace {

void dropout_binding(py::handle x_obj, py::handle noise_obj, double p, py::handle out_obj) {
  py::array x = checks::float32_array(x_obj, "x");
  py::array noise = checks::float32_array(noise_obj, "noise");
  py::array out = checks::float32_out(out_obj, "out");
  const std::vector<i64> shape = checks::shape_of(x);
  checks::shape(noise, "noise", shape);
  checks::shape(out, "out", shape);
  if (!(p >= 0.0 && p < 1.0))
    throw py::value_error("dropout probability must be in [0, 1), got " +
                          std::string(py::repr(py::float_(p))));
  // in place is fine; a shifted view of x would be overwritten before it is read
  if (out.data() != x.data()) checks::check_disjoint({{out, "out", true}, {x, "x", false}});
  checks::check_disjoint({{out, "out", true}, {noise, "noise", false}});
  const i64 count = x.size();
  py::gil_scoped_release release;
  dropout(checks::data(x), checks::data(noise), p, checks::data(out), count);
}

}  // namespace

void bind_dropout(py::module_& mod) {
  mod.def("dropout", &dropout_binding, py::arg("x"), py::arg("noise"), py::arg("p"),
          py::arg("out"),
          "Inverted dropout: out = x * (noise >= p) / (1 - p) in float32; out may be x");
}

}  // namespace fastmlp::python
