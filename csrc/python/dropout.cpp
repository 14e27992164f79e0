// Binding of the dropout family.
#include <pybind11/numpy.h>

#include <vector>

#include "kernels/dropout.h"
#include "python/bindings.h"
#include "python/checks.h"

namespace py = pybind11;

namespace fastmlp::python {
namespace {

void dropout_binding(py::handle x_obj, py::handle noise_obj, double p, py::handle out_obj) {
  // p's range is Python's rule (fastmlp.hyperparameters); any p reads and writes the same
  py::array x = checks::expect_any_shape<float>(x_obj, "x");
  const std::vector<i64> shape = checks::shape_of(x);
  py::array noise = checks::expect<float>(noise_obj, "noise", shape);
  py::array out = checks::expect<float>(out_obj, "out", shape, true);
  // in place is fine; a shifted view of x would be overwritten before it is read
  if (out.data() != x.data()) checks::check_disjoint({{out, "out", true}, {x, "x", false}});
  checks::check_disjoint({{out, "out", true}, {noise, "noise", false}});
  const i64 count = x.size();
  py::gil_scoped_release release;
  dropout(checks::pointer<float>(x), checks::pointer<float>(noise), p, checks::pointer<float>(out),
          count);
}

}  // namespace

void bind_dropout(py::module_& mod) {
  mod.def("dropout", &dropout_binding, py::arg("x"), py::arg("noise"), py::arg("p"),
          py::arg("out"),
          "Inverted dropout: out = x * (noise >= p) / (1 - p) in float32; out may be x");
}

}  // namespace fastmlp::python
