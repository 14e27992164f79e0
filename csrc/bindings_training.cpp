// Bindings of the training-layer kernels. As in bindings.cpp, every entry point checks
// dtype, contiguity, writability, shapes, aliasing and hyperparameters (arg_checks.h;
// the rules and messages of fastmlp/backends/validation.py) before touching memory,
// keeps its arrays referenced, and releases the GIL while the kernel runs.
#include "bindings_training.h"

#include <pybind11/numpy.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "arg_checks.h"
#include "batch_norm.h"
#include "elementwise.h"
#include "losses.h"
#include "optimizers.h"

namespace py = pybind11;
namespace chk = fastmlp::checks;
using fastmlp::Activation;
using i64 = std::int64_t;

namespace {

using chk::require;

void check_lr(double lr) { require(lr >= 0.0, "lr", ">= 0", lr); }
void check_weight_decay(double wd) { require(wd >= 0.0, "weight_decay", ">= 0", wd); }
void check_momentum(double m) { require(m >= 0.0 && m < 1.0, "momentum", "in [0, 1)", m); }
void check_eps(double eps, const std::string& what = "eps") {
  require(eps > 0.0, what, "> 0", eps);
}

// An array argument with its name, and whether the kernel writes it.
struct Arg {
  const py::array* array;
  const char* name;
  bool written;
};

// A written array may overlap no other (validation._check_disjoint).
void check_disjoint(std::initializer_list<Arg> args) {
  for (const Arg& a : args)
    for (const Arg& b : args)
      if (&a != &b && a.written && chk::overlaps(*a.array, *b.array))
        throw py::value_error(std::string(a.name) + " must not overlap " + b.name);
}

// -- activation forward, dropout ------------------------------------------------------
void activation_forward(py::handle activation, py::handle x_obj, py::handle out_obj) {
  const Activation act = chk::activation(activation);
  py::array x = chk::float32_array(x_obj, "x"), out = chk::float32_out(out_obj, "out");
  chk::shape(out, "out", chk::shape_of(x));
  // in place is fine; a shifted view of x would be overwritten before it is read
  if (out.data() != x.data()) chk::disjoint(out, "out", x, "x");
  const i64 count = x.size();
  py::gil_scoped_release release;
  fastmlp::activation_forward(act, chk::data(x), chk::data(out), count);
}

void dropout(py::handle x_obj, py::handle noise_obj, double p, py::handle out_obj) {
  py::array x = chk::float32_array(x_obj, "x"), noise = chk::float32_array(noise_obj, "noise");
  py::array out = chk::float32_out(out_obj, "out");
  const std::vector<i64> shape = chk::shape_of(x);
  chk::shape(noise, "noise", shape);
  chk::shape(out, "out", shape);
  if (!(p >= 0.0 && p < 1.0))
    throw py::value_error("dropout probability must be in [0, 1), got " +
                          std::string(py::repr(py::float_(p))));
  if (out.data() != x.data()) chk::disjoint(out, "out", x, "x");
  chk::disjoint(out, "out", noise, "noise");
  const i64 count = x.size();
  py::gil_scoped_release release;
  fastmlp::dropout(chk::data(x), chk::data(noise), p, chk::data(out), count);
}

// -- losses ---------------------------------------------------------------------------
// outputs[N, C] (non-empty), grad like it and disjoint from it.
void check_loss_arrays(const py::array& outputs, const char* what, const py::array& grad) {
  chk::ndim(outputs, what, 2);
  chk::shape(grad, "grad", chk::shape_of(outputs));
  if (outputs.shape(0) == 0 || outputs.shape(1) == 0)
    throw py::value_error(std::string(what) + " must be non-empty, got shape " +
                          chk::shape_str(chk::shape_of(outputs)));
  chk::disjoint(grad, "grad", outputs, what);
}

double mse_loss(py::handle outputs_obj, py::handle labels_obj, py::handle grad_obj) {
  py::array outputs = chk::float32_array(outputs_obj, "outputs");
  py::array grad = chk::float32_out(grad_obj, "grad");
  check_loss_arrays(outputs, "outputs", grad);
  const i64 n = outputs.shape(0), classes = outputs.shape(1);
  const i64* labels = chk::labels(labels_obj, n, classes);
  py::gil_scoped_release release;
  return fastmlp::mse_loss(chk::data(outputs), labels, n, classes, chk::data(grad));
}

double sigmoid_binary_cross_entropy(py::handle logits_obj, py::handle labels_obj,
                                    py::handle grad_obj) {
  py::array logits = chk::float32_array(logits_obj, "logits");
  py::array grad = chk::float32_out(grad_obj, "grad");
  if (logits.ndim() == 2 && logits.shape(1) != 1)
    throw py::value_error("binary cross-entropy takes one logit per row, shape (N, 1); got " +
                          chk::shape_str(chk::shape_of(logits)));
  check_loss_arrays(logits, "logits", grad);
  const i64 n = logits.shape(0);
  const i64* labels = chk::labels(labels_obj, n, 2);
  py::gil_scoped_release release;
  return fastmlp::sigmoid_binary_cross_entropy(chk::data(logits), labels, n, chk::data(grad));
}

// -- batch norm -----------------------------------------------------------------------
// x[N, F] and the 1-D feature vectors of F entries.
i64 bn_features(const py::array& x, std::initializer_list<std::pair<const py::array*, const char*>> vectors) {
  chk::ndim(x, "x", 2);
  const i64 f = x.shape(1);
  for (const auto& [v, name] : vectors) chk::shape(*v, name, {f});
  return f;
}

void check_bn_eps(double eps) { check_eps(eps, "batch norm eps"); }

void batch_norm_forward(py::handle x_obj, py::handle gamma_obj, py::handle beta_obj,
                        py::handle out_obj, py::handle mean_obj, py::handle invstd_obj,
                        py::handle running_mean_obj, py::handle running_var_obj,
                        double momentum, double eps) {
  py::array x = chk::float32_array(x_obj, "x"), out = chk::float32_out(out_obj, "out");
  chk::ndim(x, "x", 2);
  chk::shape(out, "out", chk::shape_of(x));
  const i64 n = x.shape(0);
  if (n < 2)
    throw py::value_error("batch norm in training needs at least 2 rows per batch, got " +
                          std::to_string(n));
  py::array gamma = chk::float32_array(gamma_obj, "gamma");
  py::array beta = chk::float32_array(beta_obj, "beta");
  py::array mean = chk::float32_out(mean_obj, "mean");
  py::array invstd = chk::float32_out(invstd_obj, "invstd");
  py::array rm = chk::float32_out(running_mean_obj, "running_mean");
  py::array rv = chk::float32_out(running_var_obj, "running_var");
  const i64 f = bn_features(x, {{&gamma, "gamma"}, {&beta, "beta"}, {&mean, "mean"},
                                {&invstd, "invstd"}, {&rm, "running_mean"},
                                {&rv, "running_var"}});
  if (!(momentum >= 0.0 && momentum <= 1.0))
    throw py::value_error("batch norm momentum must be in [0, 1], got " +
                          std::string(py::repr(py::float_(momentum))));
  check_bn_eps(eps);
  check_disjoint({{&x, "x", false}, {&gamma, "gamma", false}, {&beta, "beta", false},
                  {&out, "out", true}, {&mean, "mean", true}, {&invstd, "invstd", true},
                  {&rm, "running_mean", true}, {&rv, "running_var", true}});
  py::gil_scoped_release release;
  fastmlp::batch_norm_forward(chk::data(x), chk::data(gamma), chk::data(beta), chk::data(out),
                              chk::data(mean), chk::data(invstd), chk::data(rm), chk::data(rv),
                              n, f, momentum, eps);
}

void batch_norm_inference(py::handle x_obj, py::handle gamma_obj, py::handle beta_obj,
                          py::handle running_mean_obj, py::handle running_var_obj,
                          py::handle out_obj, double eps) {
  py::array x = chk::float32_array(x_obj, "x"), out = chk::float32_out(out_obj, "out");
  chk::ndim(x, "x", 2);
  chk::shape(out, "out", chk::shape_of(x));
  py::array gamma = chk::float32_array(gamma_obj, "gamma");
  py::array beta = chk::float32_array(beta_obj, "beta");
  py::array rm = chk::float32_array(running_mean_obj, "running_mean");
  py::array rv = chk::float32_array(running_var_obj, "running_var");
  const i64 f = bn_features(x, {{&gamma, "gamma"}, {&beta, "beta"}, {&rm, "running_mean"},
                                {&rv, "running_var"}});
  check_bn_eps(eps);
  check_disjoint({{&out, "out", true}, {&x, "x", false}, {&gamma, "gamma", false},
                  {&beta, "beta", false}, {&rm, "running_mean", false},
                  {&rv, "running_var", false}});
  const i64 n = x.shape(0);
  py::gil_scoped_release release;
  fastmlp::batch_norm_inference(chk::data(x), chk::data(gamma), chk::data(beta), chk::data(rm),
                                chk::data(rv), chk::data(out), n, f, eps);
}

void batch_norm_backward(py::handle grad_obj, py::handle x_obj, py::handle gamma_obj,
                         py::handle mean_obj, py::handle invstd_obj, py::handle grad_x_obj,
                         py::handle grad_gamma_obj, py::handle grad_beta_obj) {
  py::array grad = chk::float32_array(grad_obj, "grad"), x = chk::float32_array(x_obj, "x");
  py::array grad_x = chk::float32_out(grad_x_obj, "grad_x");
  chk::ndim(x, "x", 2);
  chk::shape(grad, "grad", chk::shape_of(x));
  chk::shape(grad_x, "grad_x", chk::shape_of(x));
  py::array gamma = chk::float32_array(gamma_obj, "gamma");
  py::array mean = chk::float32_array(mean_obj, "mean");
  py::array invstd = chk::float32_array(invstd_obj, "invstd");
  py::array grad_gamma = chk::float32_out(grad_gamma_obj, "grad_gamma");
  py::array grad_beta = chk::float32_out(grad_beta_obj, "grad_beta");
  const i64 f = bn_features(x, {{&gamma, "gamma"}, {&mean, "mean"}, {&invstd, "invstd"},
                                {&grad_gamma, "grad_gamma"}, {&grad_beta, "grad_beta"}});
  // grad_x may be grad itself (both sums are taken before it is written), nothing else
  if (grad_x.data() == grad.data())
    check_disjoint({{&grad_x, "grad_x", true}, {&x, "x", false}, {&gamma, "gamma", false},
                    {&mean, "mean", false}, {&invstd, "invstd", false},
                    {&grad_gamma, "grad_gamma", true}, {&grad_beta, "grad_beta", true}});
  else
    check_disjoint({{&grad_x, "grad_x", true}, {&grad, "grad", false}, {&x, "x", false},
                    {&gamma, "gamma", false}, {&mean, "mean", false},
                    {&invstd, "invstd", false}, {&grad_gamma, "grad_gamma", true},
                    {&grad_beta, "grad_beta", true}});
  const i64 n = x.shape(0);
  py::gil_scoped_release release;
  fastmlp::batch_norm_backward(chk::data(grad), chk::data(x), chk::data(gamma), chk::data(mean),
                               chk::data(invstd), chk::data(grad_x), chk::data(grad_gamma),
                               chk::data(grad_beta), n, f);
}

// -- optimizers -----------------------------------------------------------------------
// param (written) and grad of one shape; returns the element count.
i64 param_and_grad(const py::array& param, const py::array& grad) {
  chk::shape(grad, "grad", chk::shape_of(param));
  return param.size();
}

// An optional state array (buf): None, or a writable float32 array shaped like param.
std::optional<py::array> optional_state(py::handle obj, const py::array& param, const char* name) {
  if (obj.is_none()) return std::nullopt;
  py::array a = chk::float32_out(obj, name);
  chk::shape(a, name, chk::shape_of(param));
  return a;
}

float* data_or_null(const std::optional<py::array>& a) { return a ? chk::data(*a) : nullptr; }

void sgd_step(py::handle param_obj, py::handle grad_obj, py::handle buf_obj, double lr,
              double momentum, bool nesterov, double weight_decay) {
  py::array param = chk::float32_out(param_obj, "param");
  py::array grad = chk::float32_array(grad_obj, "grad");
  const i64 n = param_and_grad(param, grad);
  check_lr(lr);
  check_momentum(momentum);
  if (nesterov && momentum == 0.0)
    throw py::value_error("nesterov momentum needs a momentum > 0");
  check_weight_decay(weight_decay);
  std::optional<py::array> buf = optional_state(buf_obj, param, "buf");
  if (!buf && momentum != 0.0)
    throw py::value_error("sgd_step with momentum needs a momentum buffer buf");
  const py::array none = py::array_t<float>(0);  // stands in for an absent buf
  const py::array& b = buf ? *buf : none;
  check_disjoint({{&param, "param", true}, {&grad, "grad", false}, {&b, "buf", true}});
  py::gil_scoped_release release;
  fastmlp::sgd_step(chk::data(param), chk::data(grad), data_or_null(buf), n, lr, momentum,
                    nesterov, weight_decay);
}

void rmsprop_step(py::handle param_obj, py::handle grad_obj, py::handle square_avg_obj,
                  py::handle buf_obj, double lr, double alpha, double eps, double momentum,
                  double weight_decay) {
  py::array param = chk::float32_out(param_obj, "param");
  py::array grad = chk::float32_array(grad_obj, "grad");
  const i64 n = param_and_grad(param, grad);
  py::array square_avg = chk::float32_out(square_avg_obj, "square_avg");
  chk::shape(square_avg, "square_avg", chk::shape_of(param));
  check_lr(lr);
  require(alpha >= 0.0 && alpha < 1.0, "alpha", "in [0, 1)", alpha);
  check_eps(eps);
  check_momentum(momentum);
  check_weight_decay(weight_decay);
  std::optional<py::array> buf = optional_state(buf_obj, param, "buf");
  if (!buf && momentum != 0.0)
    throw py::value_error("rmsprop_step with momentum needs a momentum buffer buf");
  const py::array none = py::array_t<float>(0);
  const py::array& b = buf ? *buf : none;
  check_disjoint({{&param, "param", true}, {&grad, "grad", false},
                  {&square_avg, "square_avg", true}, {&b, "buf", true}});
  py::gil_scoped_release release;
  fastmlp::rmsprop_step(chk::data(param), chk::data(grad), chk::data(square_avg),
                        data_or_null(buf), n, lr, alpha, eps, momentum, weight_decay);
}

void adamw_step(py::handle param_obj, py::handle grad_obj, py::handle m_obj, py::handle v_obj,
                double lr, double beta1, double beta2, double eps, double step,
                double weight_decay) {
  py::array param = chk::float32_out(param_obj, "param");
  py::array grad = chk::float32_array(grad_obj, "grad");
  const i64 n = param_and_grad(param, grad);
  py::array m = chk::float32_out(m_obj, "m"), v = chk::float32_out(v_obj, "v");
  chk::shape(m, "m", chk::shape_of(param));
  chk::shape(v, "v", chk::shape_of(param));
  check_disjoint({{&param, "param", true}, {&grad, "grad", false}, {&m, "m", true},
                  {&v, "v", true}});
  chk::adam_hyperparameters(lr, beta1, beta2, eps, weight_decay);
  chk::step_number(step);
  py::gil_scoped_release release;
  fastmlp::adamw_step(chk::data(param), chk::data(grad), chk::data(m), chk::data(v), n, lr,
                      beta1, beta2, eps, static_cast<i64>(step), weight_decay);
}

}  // namespace

namespace fastmlp {

void bind_training_kernels(py::module_& mod) {
  mod.def("activation_forward", &::activation_forward, py::arg("activation"), py::arg("x"),
          py::arg("out"));
  mod.def("mse_loss", &::mse_loss, py::arg("outputs"), py::arg("labels"), py::arg("grad"));
  mod.def("sigmoid_binary_cross_entropy", &::sigmoid_binary_cross_entropy, py::arg("logits"),
          py::arg("labels"), py::arg("grad"));
  mod.def("dropout", &::dropout, py::arg("x"), py::arg("noise"), py::arg("p"), py::arg("out"));
  mod.def("batch_norm_forward", &::batch_norm_forward, py::arg("x"), py::arg("gamma"),
          py::arg("beta"), py::arg("out"), py::arg("mean"), py::arg("invstd"),
          py::arg("running_mean"), py::arg("running_var"), py::arg("momentum") = 0.1,
          py::arg("eps") = 1e-5);
  mod.def("batch_norm_inference", &::batch_norm_inference, py::arg("x"), py::arg("gamma"),
          py::arg("beta"), py::arg("running_mean"), py::arg("running_var"), py::arg("out"),
          py::arg("eps") = 1e-5);
  mod.def("batch_norm_backward", &::batch_norm_backward, py::arg("grad"), py::arg("x"),
          py::arg("gamma"), py::arg("mean"), py::arg("invstd"), py::arg("grad_x"),
          py::arg("grad_gamma"), py::arg("grad_beta"));
  mod.def("sgd_step", &::sgd_step, py::arg("param"), py::arg("grad"), py::arg("buf"),
          py::arg("lr"), py::arg("momentum") = 0.0, py::arg("nesterov") = false,
          py::arg("weight_decay") = 0.0);
  mod.def("rmsprop_step", &::rmsprop_step, py::arg("param"), py::arg("grad"),
          py::arg("square_avg"), py::arg("buf"), py::arg("lr"), py::arg("alpha") = 0.99,
          py::arg("eps") = 1e-8, py::arg("momentum") = 0.0, py::arg("weight_decay") = 0.0);
  mod.def("adamw_step", &::adamw_step, py::arg("param"), py::arg("grad"), py::arg("m"),
          py::arg("v"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"),
          py::arg("step"), py::arg("weight_decay") = 0.01);
}

}  // namespace fastmlp
