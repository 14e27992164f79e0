// Bindings of the activations family: activation_forward and activation_backward.
#include <pybind11/numpy.h>

#include <optional>
#include <string>
#include <vector>

#include "kernels/activations.h"
#include "python/bindings.h"
#include "python/checks.h"

namespace py = pybind11;

namespace fastmlp::python {
namespace {

void activation_forward_binding(py::handle activation, py::handle x_obj, py::handle out_obj) {
  const Activation act = checks::activation(activation);
  py::array x = checks::expect_any_shape<float>(x_obj, "x");
  py::array out = checks::expect<float>(out_obj, "out", checks::shape_of(x), true);
  // in place is fine; a shifted view of x would be overwritten before it is read
  if (out.data() != x.data()) checks::check_disjoint({{out, "out", true}, {x, "x", false}});
  const i64 count = x.size();
  py::gil_scoped_release release;
  activation_forward(act, checks::pointer<float>(x), checks::pointer<float>(out), count);
}

void activation_backward_binding(py::handle activation, py::handle grad_obj,
                                 py::handle out_act_obj, py::handle pre_obj, py::handle out_obj) {
  const Activation act = checks::activation(activation);
  py::array grad = checks::expect_any_shape<float>(grad_obj, "grad");
  const std::vector<i64> shape = checks::shape_of(grad);
  py::array out = checks::expect<float>(out_obj, "out", shape, true);
  std::optional<py::array> out_act, pre;
  if (!out_act_obj.is_none()) {
    out_act = checks::expect<float>(out_act_obj, "out_act", shape);
    checks::check_disjoint({{out, "out", true}, {*out_act, "out_act", false}});
  }
  if (!pre_obj.is_none()) {
    pre = checks::expect<float>(pre_obj, "pre", shape);
    checks::check_disjoint({{out, "out", true}, {*pre, "pre", false}});
  }
  // sigmoid and tanh derivatives come from the output; relu-like ones from its sign
  const bool relu_like = act == Activation::relu || act == Activation::leaky_relu;
  const py::array* ref = out_act ? &*out_act : (relu_like && pre ? &*pre : nullptr);
  if (act != Activation::identity && !ref)
    throw py::value_error(std::string("activation_backward(") + std::string(py::repr(activation)) +
                          ") needs out_act" + (relu_like ? " or pre" : ""));
  // in place is fine; a shifted view of grad would be overwritten before it is read
  if (out.data() != grad.data())
    checks::check_disjoint({{out, "out", true}, {grad, "grad", false}});
  const float* ref_data = ref ? checks::pointer<float>(*ref) : nullptr;
  const i64 count = grad.size();
  py::gil_scoped_release release;
  activation_backward(act, checks::pointer<float>(grad), ref_data, checks::pointer<float>(out), count);
}

}  // namespace

void bind_activations(py::module_& mod) {
  mod.def("activation_forward", &activation_forward_binding, py::arg("activation"),
          py::arg("x"), py::arg("out"), "out = activation(x), elementwise; out may be x");
  mod.def("activation_backward", &activation_backward_binding, py::arg("activation"),
          py::arg("grad"), py::arg("out_act"), py::arg("pre"), py::arg("out"),
          "out = grad * activation'(.), the derivative from out_act (or, relu-like, pre); "
          "out may be grad");
}

}  // namespace fastmlp::python
