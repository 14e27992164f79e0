// pybind11 bindings for fastmlp._cpp. Every entry point checks dtype, contiguity,
// writability, shapes and aliasing (arg_checks.h) before touching memory, so no Python
// input can crash the interpreter, keeps its arrays referenced, and releases the GIL
// while the kernel runs.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "arg_checks.h"
#include "bindings_training.h"
#include "dispatch.h"
#include "gemm/gemm.h"
#include "gemm/gemm_bindings.h"
#include "kernels.h"

namespace py = pybind11;
void bind_train_steps(py::module_& mod);  // train_steps_bindings.cpp
namespace chk = fastmlp::checks;
using fastmlp::Activation;
using fastmlp::Isa;
using i64 = std::int64_t;

namespace {

void gemm(py::handle a_obj, py::handle b_obj, py::handle out_obj, bool trans_a, bool trans_b,
          double alpha, double beta) {
  py::array a = chk::float32_array(a_obj, "a"), b = chk::float32_array(b_obj, "b");
  py::array out = chk::float32_out(out_obj, "out");
  chk::ndim(a, "a", 2);
  chk::ndim(b, "b", 2);
  chk::ndim(out, "out", 2);
  const i64 m = trans_a ? a.shape(1) : a.shape(0), k = trans_a ? a.shape(0) : a.shape(1);
  const i64 kb = trans_b ? b.shape(1) : b.shape(0), n = trans_b ? b.shape(0) : b.shape(1);
  if (k != kb)
    throw py::value_error("inner dimensions differ: op(a) is " + std::to_string(m) + "x" +
                          std::to_string(k) + " but op(b) is " + std::to_string(kb) + "x" +
                          std::to_string(n));
  chk::shape(out, "out", {m, n});
  chk::disjoint(out, "out", a, "a");
  chk::disjoint(out, "out", b, "b");
  fastmlp::GemmProblem p;
  p.a = chk::data(a), p.lda = a.shape(1), p.trans_a = trans_a;
  p.b = chk::data(b), p.ldb = b.shape(1), p.trans_b = trans_b;
  p.c = chk::data(out), p.ldc = n;
  p.m = m, p.n = n, p.k = k;
  p.alpha = static_cast<float>(alpha), p.beta = static_cast<float>(beta);
  py::gil_scoped_release release;
  fastmlp::gemm(p);
}

void dense_forward(py::handle x_obj, py::handle w_obj, py::handle b_obj, py::handle out_obj,
                   py::handle activation, py::handle pre_obj) {
  py::array x = chk::float32_array(x_obj, "x"), w = chk::float32_array(w_obj, "w");
  py::array b = chk::float32_array(b_obj, "b"), out = chk::float32_out(out_obj, "out");
  chk::ndim(x, "x", 2);
  chk::ndim(w, "w", 2);
  chk::ndim(b, "b", 1);
  chk::ndim(out, "out", 2);
  const Activation act = chk::activation(activation);
  const i64 n = x.shape(0), k = x.shape(1), f = w.shape(0);
  if (w.shape(1) != k)
    throw py::value_error("x has " + std::to_string(k) + " features but w expects " +
                          std::to_string(w.shape(1)));
  chk::shape(b, "b", {f});
  chk::shape(out, "out", {n, f});
  chk::disjoint(out, "out", x, "x");
  chk::disjoint(out, "out", w, "w");
  chk::disjoint(out, "out", b, "b");
  float* pre_data = nullptr;
  std::optional<py::array> pre;
  if (!pre_obj.is_none()) {
    pre = chk::float32_out(pre_obj, "pre");
    chk::shape(*pre, "pre", {n, f});
    for (auto [in, name] : {std::pair{&out, "out"}, {&x, "x"}, {&w, "w"}, {&b, "b"}})
      chk::disjoint(*pre, "pre", *in, name);
    pre_data = chk::data(*pre);
  }
  py::gil_scoped_release release;
  fastmlp::dense_forward(chk::data(x), chk::data(w), chk::data(b), chk::data(out), pre_data, n,
                         k, f, act);
}

void activation_backward(py::handle activation, py::handle grad_obj, py::handle out_act_obj,
                         py::handle pre_obj, py::handle out_obj) {
  const Activation act = chk::activation(activation);
  py::array grad = chk::float32_array(grad_obj, "grad"), out = chk::float32_out(out_obj, "out");
  const std::vector<i64> shape = chk::shape_of(grad);
  chk::shape(out, "out", shape);
  std::optional<py::array> out_act, pre;
  if (!out_act_obj.is_none()) {
    out_act = chk::float32_array(out_act_obj, "out_act");
    chk::shape(*out_act, "out_act", shape);
    chk::disjoint(out, "out", *out_act, "out_act");
  }
  if (!pre_obj.is_none()) {
    pre = chk::float32_array(pre_obj, "pre");
    chk::shape(*pre, "pre", shape);
    chk::disjoint(out, "out", *pre, "pre");
  }
  // sigmoid and tanh derivatives come from the output; relu-like ones from its sign
  const bool relu_like = act == Activation::relu || act == Activation::leaky_relu;
  const py::array* ref = out_act ? &*out_act : (relu_like && pre ? &*pre : nullptr);
  if (act != Activation::identity && !ref)
    throw py::value_error(std::string("activation_backward(") + std::string(py::repr(activation)) +
                          ") needs out_act" + (relu_like ? " or pre" : ""));
  // in place is fine; a shifted view of grad would be overwritten before it is read
  if (out.data() != grad.data()) chk::disjoint(out, "out", grad, "grad");
  const float* ref_data = ref ? chk::data(*ref) : nullptr;
  const i64 count = grad.size();
  py::gil_scoped_release release;
  fastmlp::activation_backward(act, chk::data(grad), ref_data, chk::data(out), count);
}

void bias_grad(py::handle grad_obj, py::handle out_obj) {
  py::array grad = chk::float32_array(grad_obj, "grad"), out = chk::float32_out(out_obj, "out");
  chk::ndim(grad, "grad", 2);
  chk::ndim(out, "out", 1);
  chk::shape(out, "out", {grad.shape(1)});
  chk::disjoint(out, "out", grad, "grad");
  const i64 rows = grad.shape(0), cols = grad.shape(1);
  py::gil_scoped_release release;
  fastmlp::bias_grad(chk::data(grad), rows, cols, chk::data(out));
}

double softmax_cross_entropy(py::handle logits_obj, py::handle labels_obj, py::handle grad_obj) {
  py::array logits = chk::float32_array(logits_obj, "logits");
  py::array grad = chk::float32_out(grad_obj, "grad");
  chk::ndim(logits, "logits", 2);
  chk::shape(grad, "grad", chk::shape_of(logits));
  const i64 n = logits.shape(0), classes = logits.shape(1);
  if (n == 0 || classes == 0)
    throw py::value_error("logits must be non-empty, got shape " + chk::shape_str({n, classes}));
  const i64* labels = chk::labels(labels_obj, n, classes);
  chk::disjoint(grad, "grad", logits, "logits");
  py::gil_scoped_release release;
  return fastmlp::softmax_cross_entropy(chk::data(logits), labels, n, classes, chk::data(grad));
}

void adam_step(py::handle param_obj, py::handle grad_obj, py::handle m_obj, py::handle v_obj,
               double lr, double beta1, double beta2, double eps, double step,
               double weight_decay) {
  py::array param = chk::float32_out(param_obj, "param");
  py::array grad = chk::float32_array(grad_obj, "grad");
  py::array m = chk::float32_out(m_obj, "m"), v = chk::float32_out(v_obj, "v");
  const std::vector<i64> shape = chk::shape_of(param);
  chk::shape(grad, "grad", shape);
  chk::shape(m, "m", shape);
  chk::shape(v, "v", shape);
  chk::disjoint(param, "param", grad, "grad");
  chk::disjoint(param, "param", m, "m");
  chk::disjoint(param, "param", v, "v");
  chk::disjoint(m, "m", grad, "grad");
  chk::disjoint(m, "m", v, "v");
  chk::disjoint(v, "v", grad, "grad");
  chk::adam_hyperparameters(lr, beta1, beta2, eps, weight_decay);
  chk::step_number(step);
  const i64 n = param.size();
  py::gil_scoped_release release;
  fastmlp::adam_step(chk::data(param), chk::data(grad), chk::data(m), chk::data(v), n, lr, beta1,
                     beta2, eps, static_cast<i64>(step), weight_decay);
}

double forward_backward(py::handle x_obj, py::handle labels_obj, py::handle weights_obj,
                        py::handle biases_obj, py::handle weight_grads_obj,
                        py::handle bias_grads_obj, py::handle acts_obj, py::handle grads_obj,
                        py::handle activation) {
  const char* list_names[] = {"weights", "biases", "weight_grads", "bias_grads", "acts", "grads"};
  const py::handle list_objs[] = {weights_obj, biases_obj, weight_grads_obj,
                                  bias_grads_obj, acts_obj, grads_obj};
  std::vector<py::sequence> lists;
  for (int j = 0; j < 6; ++j) lists.push_back(chk::layer_list(list_objs[j], list_names[j]));
  const std::size_t layers = lists[0].size();
  if (layers == 0) throw py::value_error("forward_backward needs at least one layer");
  for (int j = 1; j < 6; ++j)
    if (lists[j].size() != layers)
      throw py::value_error(std::string(list_names[j]) + " has " + std::to_string(lists[j].size()) +
                            " entries but weights has " + std::to_string(layers));
  const Activation act = chk::activation(activation);
  py::array x = chk::float32_array(x_obj, "x");
  chk::ndim(x, "x", 2);
  const i64 n = x.shape(0);

  // Every array, kept referenced here while the GIL is released.
  std::vector<chk::Span> arrays;
  arrays.reserve(6 * layers + 1);
  arrays.push_back({x, "x", false});
  std::vector<fastmlp::DenseLayer> net(layers);
  i64 in = x.shape(1);
  for (std::size_t i = 0; i < layers; ++i) {
    auto entry = [&](int j, bool written) -> py::array& {
      const std::string name = std::string(list_names[j]) + "[" + std::to_string(i) + "]";
      arrays.push_back({chk::float32_array(lists[j][i], name, written), name, written});
      return arrays.back().array;
    };
    py::array& w = entry(0, false);
    chk::ndim(w, arrays.back().name, 2);
    const i64 out = w.shape(0);
    if (w.shape(1) != in)
      throw py::value_error(arrays.back().name + " has shape " + chk::shape_str(chk::shape_of(w)) +
                            ", expected " + chk::shape_str({out, in}));
    fastmlp::DenseLayer& l = net[i];
    l.in = in, l.out = out, l.w = chk::data(w);
    const std::vector<i64> shapes[] = {{out}, {out, in}, {out}, {n, out}, {n, out}};
    float** slots[] = {nullptr, &l.w_grad, &l.b_grad, &l.act, &l.grad};
    for (int j = 1; j < 6; ++j) {
      py::array& a = entry(j, j > 1);
      chk::shape(a, arrays.back().name, shapes[j - 1]);
      if (j == 1)
        l.b = chk::data(a);
      else
        *slots[j - 1] = chk::data(a);
    }
    in = out;
  }
  std::vector<const chk::Span*> spans;
  for (const chk::Span& a : arrays) spans.push_back(&a);
  chk::check_disjoint(spans);
  const i64* labels = chk::labels(labels_obj, n, net.back().out);
  if (n == 0) throw py::value_error("x must have at least one row");
  py::gil_scoped_release release;
  return fastmlp::forward_backward(chk::data(x), labels, n, net, act);
}

}  // namespace

PYBIND11_MODULE(_cpp, mod) {
  mod.doc() = "fastmlp's C++ kernels (float32, OpenMP, run-time ISA dispatch)";
  fastmlp::bind_training_kernels(mod);  // bindings_training.cpp
  bind_train_steps(mod);
  mod.def("gemm", &gemm, py::arg("a"), py::arg("b"), py::arg("out"), py::arg("trans_a") = false,
          py::arg("trans_b") = false, py::arg("alpha") = 1.0, py::arg("beta") = 0.0);
  mod.def("dense_forward", &dense_forward, py::arg("x"), py::arg("w"), py::arg("b"),
          py::arg("out"), py::arg("activation"), py::arg("pre") = py::none());
  mod.def("activation_backward", &activation_backward, py::arg("activation"), py::arg("grad"),
          py::arg("out_act"), py::arg("pre"), py::arg("out"));
  mod.def("bias_grad", &bias_grad, py::arg("grad"), py::arg("out"));
  mod.def("softmax_cross_entropy", &softmax_cross_entropy, py::arg("logits"), py::arg("labels"),
          py::arg("grad"));
  mod.def("adam_step", &adam_step, py::arg("param"), py::arg("grad"), py::arg("m"), py::arg("v"),
          py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("step"),
          py::arg("weight_decay") = 0.0);
  mod.def("forward_backward", &forward_backward, py::arg("x"), py::arg("labels"),
          py::arg("weights"), py::arg("biases"), py::arg("weight_grads"), py::arg("bias_grads"),
          py::arg("acts"), py::arg("grads"), py::arg("activation"));
  mod.def("isa", [] { return std::string(fastmlp::isa_name(fastmlp::active_isa())); },
          "ISA of the kernels in use: avx512, avx2 or generic");
  mod.def("set_isa", &fastmlp::set_isa, py::arg("name"),
          "Use a lower ISA path (for testing); ValueError if the CPU lacks it");
  mod.def("cpu_supports", [](const std::string& name) {
    if (name == "avx512") return fastmlp::cpu_supports(Isa::avx512);
    if (name == "avx2") return fastmlp::cpu_supports(Isa::avx2);
    if (name == "generic") return true;
    throw py::value_error("unknown ISA '" + name + "'; expected one of avx512, avx2, generic");
  });
  mod.def("matmul_precision",
          [] { return std::string(fastmlp::matmul_precision_name(fastmlp::matmul_precision())); },
          "Precision of every float32 GEMM: float32 or bfloat16");
  mod.def("set_matmul_precision", &fastmlp::set_matmul_precision, py::arg("name"),
          "float32, or bfloat16: GEMM operands rounded to bfloat16, sums in float32");
  mod.def("amx_available", &fastmlp::amx_available,
          "Whether the CPU has AMX bfloat16 tiles and the OS lets this process use them");
  fastmlp::bind_gemm_info(mod);  // bf16_matmul_engine, gemm_blocking (gemm/gemm_bindings.cpp)
  mod.def("num_threads", &fastmlp::num_threads);
  mod.def("set_num_threads", &fastmlp::set_num_threads, py::arg("n"));
  mod.def("flush_denormals", &fastmlp::flush_denormals);
  mod.def("set_flush_denormals", &fastmlp::set_flush_denormals, py::arg("on"));
}
