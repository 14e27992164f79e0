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
    arrays.push_back(checks::float32_array(a.obj, a.name, a.written));
  checks::ndim(x, "x", 2);
  const FeatureArg* arg = args.begin();
  for (const py::array& v : arrays) checks::shape(v, (arg++)->name, {x.shape(1)});
  return arrays;
}

void check_bn_eps(double eps) { checks::check_eps(eps, "batch norm eps"); }

void batch_norm_forward_binding(py::handle x_obj, py::handle gamma_obj, py::handle beta_obj,
                                py::handle out_obj, py::handle mean_obj, py::handle invstd_obj,
                                py::handle running_mean_obj, py::handle running_var_obj,
                                double momentum, double eps) {
  py::array x = checks::float32_array(x_obj, "x"), out = checks::float32_out(out_obj, "out");
  checks::ndim(x, "x", 2);
  checks::shape(out, "out", checks::shape_of(x));
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
  if (!(momentum >= 0.0 && momentum <= 1.0))
    throw py::value_error("batch norm momentum must be in [0, 1], got " +
                          std::string(py::repr(py::float_(momentum))));
  check_bn_eps(eps);
  checks::check_disjoint({{x, "x", false}, {gamma, "gamma", false}, {beta, "beta", false},
                          {out, "out", true}, {mean, "mean", true}, {invstd, "invstd", true},
                          {rm, "running_mean", true}, {rv, "running_var", true}});
  py::gil_scoped_release release;
  batch_norm_forward(checks::data(x), checks::data(gamma), checks::data(beta), checks::data(out),
                     checks::data(mean), checks::data(invstd), checks::data(rm), checks::data(rv),
                     n, f, momentum, eps);
}

void batch_norm_inference_binding(py::handle x_obj, py::handle gamma_obj, py::handle beta_obj,
                                  py::handle running_mean_obj, py::handle running_var_obj,
                                  py::handle out_obj, double eps) {
  py::array x = checks::float32_array(x_obj, "x"), out = checks::float32_out(out_obj, "out");
  checks::ndim(x, "x", 2);
  checks::shape(out, "out", checks::shape_of(x));
  const std::vector<py::array> v =
      feature_vectors(x, {{gamma_obj, "gamma", false}, {beta_obj, "beta", false},
                          {running_mean_obj, "running_mean", false},
                          {running_var_obj, "running_var", false}});
  const py::array &gamma = v[0], &beta = v[1], &rm = v[2], &rv = v[3];
  const i64 f = x.shape(1);
  check_bn_eps(eps);
  checks::check_disjoint({{out, "out", true}, {x, "x", false}, {gamma, "gamma", false},
                          {beta, "beta", false}, {rm, "running_mean", false},
                          {rv, "running_var", false}});
  const i64 n = x.shape(0);
  py::gil_scoped_release release;
  batch_norm_inference(checks::data(x), checks::data(gamma), checks::data(beta),
                       checks::data(rm), checks::data(rv), checks::data(out), n, f, eps);
}

void batch_norm_backward_binding(py::handle grad_obj, py::handle x_obj, py::handle gamma_obj,
                                 py::handle mean_obj, py::handle invstd_obj,
                                 py::handle grad_x_obj, py::handle grad_gamma_obj,
                                 py::handle grad_beta_obj) {
  py::array grad = checks::float32_array(grad_obj, "grad"), x = checks::float32_array(x_obj, "x");
  py::array grad_x = checks::float32_out(grad_x_obj, "grad_x");
  checks::ndim(x, "x", 2);
  checks::shape(grad, "grad", checks::shape_of(x));
  checks::shape(grad_x, "grad_x", checks::shape_of(x));
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
  batch_norm_backward(checks::data(grad), checks::data(x), checks::data(gamma),
                      checks::data(mean), checks::data(invstd), checks::data(grad_x),
                      checks::data(grad_gamma), checks::data(grad_beta), n, f);
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
