// Bindings of the optimizers family: SGD, RMSprop, Adam and AdamW steps.
#include <pybind11/numpy.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "kernels/optimizers.h"
#include "python/bindings.h"
#include "python/checks.h"

namespace py = pybind11;

namespace fastmlp::python {
namespace {

// The arrays of an optimizer step: param (written) and grad of one shape, the state arrays
// (written) like param, `buf` optional (None: a null pointer; required with momentum, the
// one case the kernels write it), all apart. The hyperparameter ranges are Python's
// (fastmlp.hyperparameters): a direct call with other values computes IEEE values, never
// touches other memory.
struct StepArrays {
  py::array param, grad;
  std::vector<py::array> kept;  // the state arrays given
  std::vector<float*> states;   // in argument order, null for a missing buf
  i64 count = 0;
  float* state(std::size_t i) const { return states[i]; }
};

StepArrays step_arrays(py::handle param_obj, py::handle grad_obj,
                       std::initializer_list<std::pair<py::handle, const char*>> states,
                       bool buf_needed = false) {
  StepArrays s;
  s.param = checks::expect_any_shape<float>(param_obj, "param", true);
  s.count = s.param.size();
  const std::vector<i64> shape = checks::shape_of(s.param);
  s.grad = checks::expect<float>(grad_obj, "grad", shape);
  std::vector<checks::Span> spans = {{s.param, "param", true}, {s.grad, "grad", false}};
  for (const auto& [obj, name] : states) {
    if (obj.is_none() && std::string(name) == "buf") {
      if (buf_needed) throw py::value_error("a step with momentum needs a momentum buffer buf");
      s.states.push_back(nullptr);
      continue;
    }
    s.kept.push_back(checks::expect<float>(obj, name, shape, true));
    s.states.push_back(checks::pointer<float>(s.kept.back()));
    spans.push_back({s.kept.back(), name, true});
  }
  checks::check_disjoint(spans);
  return s;
}

void sgd_step_binding(py::handle param, py::handle grad, py::handle buf, double lr,
                      double momentum, bool nesterov, double weight_decay) {
  const StepArrays s = step_arrays(param, grad, {{buf, "buf"}}, momentum != 0.0);
  py::gil_scoped_release release;
  sgd_step(checks::pointer<float>(s.param), checks::pointer<float>(s.grad), s.state(0), s.count,
           lr, momentum, nesterov, weight_decay);
}

void rmsprop_step_binding(py::handle param, py::handle grad, py::handle square_avg,
                          py::handle buf, double lr, double alpha, double eps, double momentum,
                          double weight_decay) {
  const StepArrays s =
      step_arrays(param, grad, {{square_avg, "square_avg"}, {buf, "buf"}}, momentum != 0.0);
  py::gil_scoped_release release;
  rmsprop_step(checks::pointer<float>(s.param), checks::pointer<float>(s.grad), s.state(0),
               s.state(1), s.count, lr, alpha, eps, momentum, weight_decay);
}

// Adam and AdamW take the same arguments and checks; `step_fn` is the kernel. The step
// number becomes an int64: it must be one (checks::step_number).
template <class StepFn>
void adam_like_step(StepFn step_fn, py::handle param, py::handle grad, py::handle m,
                    py::handle v, double lr, double beta1, double beta2, double eps,
                    double step, double weight_decay) {
  const StepArrays s = step_arrays(param, grad, {{m, "m"}, {v, "v"}});
  checks::step_number(step);
  py::gil_scoped_release release;
  step_fn(checks::pointer<float>(s.param), checks::pointer<float>(s.grad), s.state(0),
          s.state(1), s.count, lr, beta1, beta2, eps, static_cast<i64>(step), weight_decay);
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
