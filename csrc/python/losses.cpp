// Bindings of the losses family: softmax cross-entropy, MSE, sigmoid binary cross-entropy.
#include <pybind11/numpy.h>

#include <string>

#include "kernels/losses.h"
#include "python/bindings.h"
#include "python/checks.h"

namespace py = pybind11;

namespace fastmlp::python {
namespace {

// outputs[N, C] (non-empty) and grad like it, apart.
struct LossArrays {
  py::array outputs, grad;
  i64 n, classes;
};

LossArrays loss_arrays(py::handle outputs_obj, const char* what, py::handle grad_obj) {
  LossArrays a;
  a.outputs = checks::expect<float>(outputs_obj, what, {checks::kAnyExtent, checks::kAnyExtent});
  a.n = a.outputs.shape(0), a.classes = a.outputs.shape(1);
  a.grad = checks::expect<float>(grad_obj, "grad", {a.n, a.classes}, true);
  if (a.n == 0 || a.classes == 0)
    throw py::value_error(std::string(what) + " must be non-empty, got shape " +
                          checks::shape_str({a.n, a.classes}));
  checks::check_disjoint({{a.grad, "grad", true}, {a.outputs, what, false}});
  return a;
}

double softmax_cross_entropy_binding(py::handle logits_obj, py::handle labels_obj,
                                     py::handle grad_obj) {
  const LossArrays a = loss_arrays(logits_obj, "logits", grad_obj);
  const i64* labels = checks::labels(labels_obj, a.n, a.classes);
  py::gil_scoped_release release;
  return softmax_cross_entropy(checks::pointer<float>(a.outputs), labels, a.n, a.classes,
                               checks::pointer<float>(a.grad));
}

double mse_loss_binding(py::handle outputs_obj, py::handle labels_obj, py::handle grad_obj) {
  const LossArrays a = loss_arrays(outputs_obj, "outputs", grad_obj);
  const i64* labels = checks::labels(labels_obj, a.n, a.classes);
  py::gil_scoped_release release;
  return mse_loss(checks::pointer<float>(a.outputs), labels, a.n, a.classes,
                  checks::pointer<float>(a.grad));
}

double sigmoid_binary_cross_entropy_binding(py::handle logits_obj, py::handle labels_obj,
                                            py::handle grad_obj) {
  const LossArrays a = loss_arrays(logits_obj, "logits", grad_obj);
  if (a.classes != 1)
    throw py::value_error("binary cross-entropy takes one logit per row, shape (N, 1); got " +
                          checks::shape_str({a.n, a.classes}));
  const i64* labels = checks::labels(labels_obj, a.n, 2);
  py::gil_scoped_release release;
  return sigmoid_binary_cross_entropy(checks::pointer<float>(a.outputs), labels, a.n,
                                      checks::pointer<float>(a.grad));
}

}  // namespace

void bind_losses(py::module_& mod) {
  mod.def("softmax_cross_entropy", &softmax_cross_entropy_binding, py::arg("logits"),
          py::arg("labels"), py::arg("grad"),
          "Mean softmax cross-entropy of logits against int64 labels; writes "
          "grad = (softmax - onehot) / n");
  mod.def("mse_loss", &mse_loss_binding, py::arg("outputs"), py::arg("labels"), py::arg("grad"),
          "Mean squared error against onehot(labels); writes its gradient to grad");
  mod.def("sigmoid_binary_cross_entropy", &sigmoid_binary_cross_entropy_binding,
          py::arg("logits"), py::arg("labels"), py::arg("grad"),
          "Mean binary cross-entropy of one logit per row (as BCEWithLogitsLoss) against "
          "labels in {0, 1}; writes grad = (sigmoid(z) - y) / n");
}

}  // namespace fastmlp::python
