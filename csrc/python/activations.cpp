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
  py::array x = checks::float32_array(x_obj, "x"), out = checks::float32_out(out_obj, "out");
  checks::shape(out, "out", checks::shape_of(x));
  // in place is fine; a shifted view of x would be overwritten before it is read
  if (out.data() != x.data()) checks::check_disjoint({{out, "out", true}, {x, "x", false}});
  const i64 count = x.size();
  py::gil_scoped_release release;
  activation_forward(act, checks::data(x), checks::data(out), count);
}

void activation_backward_binding(py::handle activation, py::handle grad_obj,
                                 py::handle out_act_obj, py::handle pre_obj, py::handle out_obj) {
  const Activation act = checks::activation(activation);
  py::array grad = checks::float32_array(grad_obj, "grad");
  py::array out = checks::float32_out(out_obj, "out");
  const std::vector<i64> shape = checks::shape_of(grad);
  checks::shape(out, "out", shape);
  std::optional<py::array> out_act, pre;
  if (!out_act_obj.is_none()) {
    out_act = checks::float32_array(out_act_obj, "out_act");
    checks::shape(*out_act, "out_act", shape);
    checks::check_disjoint({{out, "out", true}, {*out_act, "out_act", false}});
  }
  if (!pre_obj.is_none()) {
    pre = checks::float32_array(pre_obj, "pre");
    checks::shape(*pre, "pre", shape);
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
  const float* ref_data = ref ? checks::data(*ref) : nullptr;
  const i64 count = grad.size();
  py::gil_scoped_release release;
  activation_backward(act, checks::data(grad), ref_data, checks::data(out), count);
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
