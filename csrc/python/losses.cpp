// Bindings of the losses family: softmax cross-entropy, MSE, sigmoid binary cross-entropy.
#include <pybind11/numpy.h>

#include <string>

#include "kernels/losses.h"
#include "python/bindings.h"
#include "python/checks.h"

namespace py = pybind11;

namespace fastmlp::python {
namespace {

// outputs[N, C] (non-empty), grad like it and disjoint from it.
void check_loss_arrays(const py::array& outputs, const char* what, const py::array& grad) {
  checks::ndim(outputs, what, 2);
  checks::shape(grad, "grad", checks::shape_of(outputs));
  if (outputs.shape(0) == 0 || outputs.shape(1) == 0)
    throw py::value_error(std::string(what) + " must be non-empty, got shape " +
                          checks::shape_str(checks::shape_of(outputs)));
  checks::check_disjoint({{grad, "grad", true}, {outputs, what, false}});
}

double softmax_cross_entropy_binding(py::handle logits_obj, py::handle labels_obj,
                                     py::handle grad_obj) {
  py::array logits = checks::float32_array(logits_obj, "logits");
  py::array grad = checks::float32_out(grad_obj, "grad");
  checks::ndim(logits, "logits", 2);
  checks::shape(grad, "grad", checks::shape_of(logits));
  const i64 n = logits.shape(0), classes = logits.shape(1);
  if (n == 0 || classes == 0)
    throw py::value_error("logits must be non-empty, got shape " +
                          checks::shape_str({n, classes}));
  const i64* labels = checks::labels(labels_obj, n, classes);
  checks::check_disjoint({{grad, "grad", true}, {logits, "logits", false}});
  py::gil_scoped_release release;
  return softmax_cross_entropy(checks::data(logits), labels, n, classes, checks::data(grad));
}

double mse_loss_binding(py::handle outputs_obj, py::handle labels_obj, py::handle grad_obj) {
  py::array outputs = checks::float32_array(outputs_obj, "outputs");
  py::array grad = checks::float32_out(grad_obj, "grad");
  check_loss_arrays(outputs, "outputs", grad);
  const i64 n = outputs.shape(0), classes = outputs.shape(1);
  const i64* labels = checks::labels(labels_obj, n, classes);
  py::gil_scoped_release release;
  return mse_loss(checks::data(outputs), labels, n, classes, checks::data(grad));
}

double sigmoid_binary_cross_entropy_binding(py::handle logits_obj, py::handle labels_obj,
                                            py::handle grad_obj) {
  py::array logits = checks::float32_array(logits_obj, "logits");
  py::array grad = checks::float32_out(grad_obj, "grad");
  if (logits.ndim() == 2 && logits.shape(1) != 1)
    throw py::value_error("binary cross-entropy takes one logit per row, shape (N, 1); got " +
                          checks::shape_str(checks::shape_of(logits)));
  check_loss_arrays(logits, "logits", grad);
  const i64 n = logits.shape(0);
  const i64* labels = checks::labels(labels_obj, n, 2);
  py::gil_scoped_release release;
  return sigmoid_binary_cross_entropy(checks::data(logits), labels, n, checks::data(grad));
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
