// Bindings of the optimizers family: SGD, RMSprop, Adam and AdamW steps.
#include <pybind11/numpy.h>

#include <optional>
#include <vector>

#include "kernels/optimizers.h"
#include "python/bindings.h"
#include "python/checks.h"

namespace py = pybind11;

namespace fastmlp::python {
namespace {

// param (written) and grad of one shape; returns the element count.
i64 param_and_grad(const py::array& param, const py::array& grad) {
  checks::shape(grad, "grad", checks::shape_of(param));
  return param.size();
}

// A state array shaped like param (written).
py::array state(py::handle obj, const py::array& param, const char* name) {
  py::array a = checks::float32_out(obj, name);
  checks::shape(a, name, checks::shape_of(param));
  return a;
}

// An optional state array (buf): None, or a writable float32 array shaped like param.
std::optional<py::array> optional_state(py::handle obj, const py::array& param, const char* name) {
  if (obj.is_none()) return std::nullopt;
  return state(obj, param, name);
}

float* data_or_null(const std::optional<py::array>& a) { return a ? checks::data(*a) : nullptr; }

void sgd_step_binding(py::handle param_obj, py::handle grad_obj, py::handle buf_obj, double lr,
                      double momentum, bool nesterov, double weight_decay) {
  py::array param = checks::float32_out(param_obj, "param");
  py::array grad = checks::float32_array(grad_obj, "grad");
  const i64 n = param_and_grad(param, grad);
  checks::check_lr(lr);
  checks::check_momentum(momentum);
  if (nesterov && momentum == 0.0)
    throw py::value_error("nesterov momentum needs a momentum > 0");
  checks::check_weight_decay(weight_decay);
  std::optional<py::array> buf = optional_state(buf_obj, param, "buf");
  if (!buf && momentum != 0.0)
    throw py::value_error("sgd_step with momentum needs a momentum buffer buf");
  std::vector<checks::Span> spans = {{param, "param", true}, {grad, "grad", false}};
  if (buf) spans.push_back({*buf, "buf", true});
  checks::check_disjoint(spans);
  py::gil_scoped_release release;
  sgd_step(checks::data(param), checks::data(grad), data_or_null(buf), n, lr, momentum, nesterov,
           weight_decay);
}

void rmsprop_step_binding(py::handle param_obj, py::handle grad_obj, py::handle square_avg_obj,
                          py::handle buf_obj, double lr, double alpha, double eps,
                          double momentum, double weight_decay) {
  py::array param = checks::float32_out(param_obj, "param");
  py::array grad = checks::float32_array(grad_obj, "grad");
  const i64 n = param_and_grad(param, grad);
  py::array square_avg = state(square_avg_obj, param, "square_avg");
  checks::check_lr(lr);
  checks::require(alpha >= 0.0 && alpha < 1.0, "alpha", "in [0, 1)", alpha);
  checks::check_eps(eps);
  checks::check_momentum(momentum);
  checks::check_weight_decay(weight_decay);
  std::optional<py::array> buf = optional_state(buf_obj, param, "buf");
  if (!buf && momentum != 0.0)
    throw py::value_error("rmsprop_step with momentum needs a momentum buffer buf");
  std::vector<checks::Span> spans = {
      {param, "param", true}, {grad, "grad", false}, {square_avg, "square_avg", true}};
  if (buf) spans.push_back({*buf, "buf", true});
  checks::check_disjoint(spans);
  py::gil_scoped_release release;
  rmsprop_step(checks::data(param), checks::data(grad), checks::data(square_avg),
               data_or_null(buf), n, lr, alpha, eps, momentum, weight_decay);
}

// Adam and AdamW take the same arguments and checks; `step_fn` is the kernel.
template <class StepFn>
void adam_like_step(StepFn step_fn, py::handle param_obj, py::handle grad_obj, py::handle m_obj,
                    py::handle v_obj, double lr, double beta1, double beta2, double eps,
                    double step, double weight_decay) {
  py::array param = checks::float32_out(param_obj, "param");
  py::array grad = checks::float32_array(grad_obj, "grad");
  const i64 n = param_and_grad(param, grad);
  py::array m = state(m_obj, param, "m"), v = state(v_obj, param, "v");
  checks::check_disjoint(
      {{param, "param", true}, {grad, "grad", false}, {m, "m", true}, {v, "v", true}});
  checks::adam_hyperparameters(lr, beta1, beta2, eps, weight_decay);
  checks::step_number(step);
  py::gil_scoped_release release;
  step_fn(checks::data(param), checks::data(grad), checks::data(m), checks::data(v), n, lr,
          beta1, beta2, eps, static_cast<i64>(step), weight_decay);
}

void adam_step_binding(py::handle param, py::handle grad, py::handle m, py::handle v, double lr,
                       double beta1, double beta2, double eps, double step,
                       double weight_decay) {
  adam_like_step(adam_step, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay);
}

void adamw_step_binding(py::handle param, py::handle grad, py::handle m, py::handle v, double lr,
                        double beta1, double beta2, double eps, double step,
                        double weight_decay) {
  adam_like_step(adamw_step, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay);
}

}  // namespace

void bind_optimizers(py::module_& mod) {
  mod.def("sgd_step", &sgd_step_binding, py::arg("param"), py::arg("grad"), py::arg("buf"),
          py::arg("lr"), py::arg("momentum") = 0.0, py::arg("nesterov") = false,
          py::arg("weight_decay") = 0.0,
          "One torch.optim.SGD step in place (buf: the momentum buffer, or None without "
          "momentum)");
  mod.def("rmsprop_step", &rmsprop_step_binding, py::arg("param"), py::arg("grad"),
          py::arg("square_avg"), py::arg("buf"), py::arg("lr"), py::arg("alpha") = 0.99,
          py::arg("eps") = 1e-8, py::arg("momentum") = 0.0, py::arg("weight_decay") = 0.0,
          "One torch.optim.RMSprop step (centered=False) in place");
  mod.def("adam_step", &adam_step_binding, py::arg("param"), py::arg("grad"), py::arg("m"),
          py::arg("v"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"),
          py::arg("step"), py::arg("weight_decay") = 0.0,
          "One torch.optim.Adam step (number `step` >= 1, L2 weight decay) in place");
  mod.def("adamw_step", &adamw_step_binding, py::arg("param"), py::arg("grad"), py::arg("m"),
          py::arg("v"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"),
          py::arg("step"), py::arg("weight_decay") = 0.01,
          "One torch.optim.AdamW step (number `step` >= 1, decoupled weight decay) in place");
}

}  // namespace fastmlp::python
