// Bindings of the batch_norm family: training forward, inference, backward.
#include <pybind11/numpy.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "kernels/batch_norm.h"
#include "python/bindings.h"
#include "python/checks.h"

namespace py = pybind11;

namespace fastmlp::python {
namespace {

// A per-feature argument: its object, its name, and whether the kernel writes it.
struct FeatureArg {
  py::handle obj;
  const char* name;
  bool written;
};

// The 1-D per-feature arrays of x[N, F], each parsed in order, then checked to have F entries.
std::vector<py::array> feature_vectors(const py::array& x, std::initializer_list<FeatureArg> args) {
  std::vector<py::array> arrays;
  for (const FeatureArg& a : args)
    arrays.push_back(checks::expect<float>(a.obj, a.name, {x.shape(1)}, a.written));
  return arrays;
}

// x [N, F]; an array shaped like x (written when `written`).
py::array rows_and_features(py::handle obj, const char* name) {
  return checks::expect<float>(obj, name, {checks::kAnyExtent, checks::kAnyExtent});
}

py::array like(py::handle obj, const char* name, const py::array& x, bool written) {
  return checks::expect<float>(obj, name, checks::shape_of(x), written);
}

// momentum and eps: Python's rules (fastmlp.hyperparameters); any value reads and writes
// the same memory.

void batch_norm_forward_binding(py::handle x_obj, py::handle gamma_obj, py::handle beta_obj,
                                py::handle out_obj, py::handle mean_obj, py::handle invstd_obj,
                                py::handle running_mean_obj, py::handle running_var_obj,
                                double momentum, double eps) {
  py::array x = rows_and_features(x_obj, "x"), out = like(out_obj, "out", x, true);
  const i64 n = x.shape(0);
  if (n < 2)
    throw py::value_error("batch norm in training needs at least 2 rows per batch, got " +
                          std::to_string(n));
  const std::vector<py::array> v =
      feature_vectors(x, {{gamma_obj, "gamma", false}, {beta_obj, "beta", false},
                          {mean_obj, "mean", true}, {invstd_obj, "invstd", true},
                          {running_mean_obj, "running_mean", true},
                          {running_var_obj, "running_var", true}});
  const py::array &gamma = v[0], &beta = v[1], &mean = v[2], &invstd = v[3], &rm = v[4],
                  &rv = v[5];
  const i64 f = x.shape(1);
  checks::check_disjoint({{x, "x", false}, {gamma, "gamma", false}, {beta, "beta", false},
                          {out, "out", true}, {mean, "mean", true}, {invstd, "invstd", true},
                          {rm, "running_mean", true}, {rv, "running_var", true}});
  py::gil_scoped_release release;
  batch_norm_forward(checks::pointer<float>(x), checks::pointer<float>(gamma), checks::pointer<float>(beta), checks::pointer<float>(out),
                     checks::pointer<float>(mean), checks::pointer<float>(invstd), checks::pointer<float>(rm), checks::pointer<float>(rv),
                     n, f, momentum, eps);
}

void batch_norm_inference_binding(py::handle x_obj, py::handle gamma_obj, py::handle beta_obj,
                                  py::handle running_mean_obj, py::handle running_var_obj,
                                  py::handle out_obj, double eps) {
  py::array x = rows_and_features(x_obj, "x"), out = like(out_obj, "out", x, true);
  const std::vector<py::array> v =
      feature_vectors(x, {{gamma_obj, "gamma", false}, {beta_obj, "beta", false},
                          {running_mean_obj, "running_mean", false},
                          {running_var_obj, "running_var", false}});
  const py::array &gamma = v[0], &beta = v[1], &rm = v[2], &rv = v[3];
  const i64 f = x.shape(1);
  checks::check_disjoint({{out, "out", true}, {x, "x", false}, {gamma, "gamma", false},
                          {beta, "beta", false}, {rm, "running_mean", false},
                          {rv, "running_var", false}});
  const i64 n = x.shape(0);
  py::gil_scoped_release release;
  batch_norm_inference(checks::pointer<float>(x), checks::pointer<float>(gamma), checks::pointer<float>(beta),
                       checks::pointer<float>(rm), checks::pointer<float>(rv), checks::pointer<float>(out), n, f, eps);
}

void batch_norm_backward_binding(py::handle grad_obj, py::handle x_obj, py::handle gamma_obj,
                                 py::handle mean_obj, py::handle invstd_obj,
                                 py::handle grad_x_obj, py::handle grad_gamma_obj,
                                 py::handle grad_beta_obj) {
  py::array x = rows_and_features(x_obj, "x"), grad = like(grad_obj, "grad", x, false);
  py::array grad_x = like(grad_x_obj, "grad_x", x, true);
  const std::vector<py::array> v =
      feature_vectors(x, {{gamma_obj, "gamma", false}, {mean_obj, "mean", false},
                          {invstd_obj, "invstd", false}, {grad_gamma_obj, "grad_gamma", true},
                          {grad_beta_obj, "grad_beta", true}});
  const py::array &gamma = v[0], &mean = v[1], &invstd = v[2], &grad_gamma = v[3],
                  &grad_beta = v[4];
  const i64 f = x.shape(1);
  // grad_x may be grad itself (both sums are taken before it is written), nothing else
  const bool in_place = grad_x.data() == grad.data();
  std::vector<checks::Span> spans = {
      {grad_x, "grad_x", true}, {x, "x", false}, {gamma, "gamma", false},
      {mean, "mean", false}, {invstd, "invstd", false}, {grad_gamma, "grad_gamma", true},
      {grad_beta, "grad_beta", true}};
  if (!in_place) spans.push_back({grad, "grad", false});
  checks::check_disjoint(spans);
  const i64 n = x.shape(0);
  py::gil_scoped_release release;
  batch_norm_backward(checks::pointer<float>(grad), checks::pointer<float>(x), checks::pointer<float>(gamma),
                      checks::pointer<float>(mean), checks::pointer<float>(invstd), checks::pointer<float>(grad_x),
                      checks::pointer<float>(grad_gamma), checks::pointer<float>(grad_beta), n, f);
}

}  // namespace

void bind_batch_norm(py::module_& mod) {
  mod.def("batch_norm_forward", &batch_norm_forward_binding, py::arg("x"), py::arg("gamma"),
          py::arg("beta"), py::arg("out"), py::arg("mean"), py::arg("invstd"),
          py::arg("running_mean"), py::arg("running_var"), py::arg("momentum") = 0.1,
          py::arg("eps") = 1e-5,
          "Training batch norm over the rows of x (BatchNorm1d): writes out, the batch mean "
          "and invstd, and moves the running statistics by momentum");
  mod.def("batch_norm_inference", &batch_norm_inference_binding, py::arg("x"), py::arg("gamma"),
          py::arg("beta"), py::arg("running_mean"), py::arg("running_var"), py::arg("out"),
          py::arg("eps") = 1e-5,
          "out = (x - running_mean) * gamma / sqrt(running_var + eps) + beta");
  mod.def("batch_norm_backward", &batch_norm_backward_binding, py::arg("grad"), py::arg("x"),
          py::arg("gamma"), py::arg("mean"), py::arg("invstd"), py::arg("grad_x"),
          py::arg("grad_gamma"), py::arg("grad_beta"),
          "Gradients of training batch norm: grad_x (may be grad), grad_gamma, grad_beta");
}

}  // namespace fastmlp::python
