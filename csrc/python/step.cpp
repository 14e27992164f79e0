// Bindings of the step family: forward_backward and adam_train_steps. Both take the
// network as six per-layer lists (one parse, layer_arrays below); adam_train_steps also
// checks every `order` entry it reads and the label it selects before touching memory.
#include <pybind11/numpy.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "kernels/step.h"
#include "python/bindings.h"
#include "python/checks.h"

namespace py = pybind11;

namespace fastmlp::python {
namespace {

using checks::Span;

// The per-layer lists, in argument order: weights [out, in], biases [out],
// weight_grads [out, in], bias_grads [out], acts [rows, out], grads [rows, out].
constexpr int kLists = 6;
constexpr const char* kListNames[kLists] = {"weights",    "biases", "weight_grads",
                                            "bias_grads", "acts",   "grads"};

// The six lists, checked to be sequences of one length (at least one layer).
std::vector<py::sequence> layer_lists(const std::array<py::handle, kLists>& objs,
                                      const char* kernel) {
  std::vector<py::sequence> lists;
  for (int j = 0; j < kLists; ++j) lists.push_back(checks::layer_list(objs[j], kListNames[j]));
  const std::size_t layers = lists[0].size();
  if (layers == 0) throw py::value_error(std::string(kernel) + " needs at least one layer");
  for (int j = 1; j < kLists; ++j)
    if (lists[j].size() != layers)
      throw py::value_error(std::string(kListNames[j]) + " has " +
                            std::to_string(lists[j].size()) + " entries but weights has " +
                            std::to_string(layers));
  return lists;
}

// Layer i's six arrays (named like "weights[2]"; the gradients, acts and grads writable),
// shaped for `in` input features and `rows` rows, and the DenseLayer viewing them.
struct LayerArrays {
  std::array<Span, kLists> spans;
  DenseLayer layer;
};

LayerArrays layer_arrays(const std::vector<py::sequence>& lists, std::size_t i, i64 in,
                         i64 rows) {
  LayerArrays l;
  auto& s = l.spans;
  for (int j = 0; j < kLists; ++j) {
    s[j].name = std::string(kListNames[j]) + "[" + std::to_string(i) + "]";
    s[j].written = j > 1;
  }
  s[0].array = checks::float32_array(lists[0][i], s[0].name);
  checks::ndim(s[0].array, s[0].name, 2);
  const i64 out = s[0].array.shape(0);
  if (s[0].array.shape(1) != in)
    throw py::value_error(s[0].name + " has shape " +
                          checks::shape_str(checks::shape_of(s[0].array)) + ", expected " +
                          checks::shape_str({out, in}));
  const std::vector<i64> shapes[kLists] = {{out, in}, {out}, {out, in}, {out}, {rows, out},
                                           {rows, out}};
  for (int j = 1; j < kLists; ++j) {
    s[j].array = checks::float32_array(lists[j][i], s[j].name, s[j].written);
    checks::shape(s[j].array, s[j].name, shapes[j]);
  }
  l.layer = {in,
             out,
             checks::data(s[0].array),
             checks::data(s[1].array),
             checks::data(s[2].array),
             checks::data(s[3].array),
             checks::data(s[4].array),
             checks::data(s[5].array)};
  return l;
}

double forward_backward_binding(py::handle x_obj, py::handle labels_obj, py::handle weights_obj,
                                py::handle biases_obj, py::handle weight_grads_obj,
                                py::handle bias_grads_obj, py::handle acts_obj,
                                py::handle grads_obj, py::handle activation) {
  const std::vector<py::sequence> lists =
      layer_lists({weights_obj, biases_obj, weight_grads_obj, bias_grads_obj, acts_obj,
                   grads_obj},
                  "forward_backward");
  const Activation act = checks::activation(activation);
  py::array x = checks::float32_array(x_obj, "x");
  checks::ndim(x, "x", 2);
  const i64 n = x.shape(0);

  // Every array, kept referenced here while the GIL is released.
  std::vector<Span> arrays = {{x, "x", false}};
  std::vector<DenseLayer> net;
  i64 in = x.shape(1);
  for (std::size_t i = 0; i < lists[0].size(); ++i) {
    LayerArrays l = layer_arrays(lists, i, in, n);
    arrays.insert(arrays.end(), l.spans.begin(), l.spans.end());
    net.push_back(l.layer);
    in = l.layer.out;
  }
  checks::check_disjoint(arrays);
  const i64* labels = checks::labels(labels_obj, n, net.back().out);
  if (n == 0) throw py::value_error("x must have at least one row");
  py::gil_scoped_release release;
  return forward_backward(checks::data(x), labels, n, net, act);
}

void adam_train_steps_binding(py::handle x_obj, py::handle labels_obj, py::handle order_obj,
                              i64 start, i64 batch_size, i64 steps, py::handle xb_obj,
                              py::handle yb_obj, py::handle weights_obj, py::handle biases_obj,
                              py::handle weight_grads_obj, py::handle bias_grads_obj,
                              py::handle acts_obj, py::handle grads_obj, py::handle activation,
                              py::handle params_obj, py::handle param_grads_obj,
                              py::handle m_obj, py::handle v_obj, double lr, double beta1,
                              double beta2, double eps, i64 t0, double weight_decay,
                              py::handle losses_obj, py::handle correct_obj) {
  TrainSteps a;
  std::deque<Span> spans;  // every array, kept referenced while the GIL is released
  auto keep = [&](py::array arr, std::string name, bool written) -> py::array& {
    spans.push_back({std::move(arr), std::move(name), written});
    return spans.back().array;
  };

  // the data and the chunk of `order` this call reads
  py::array& x = keep(checks::float32_array(x_obj, "x"), "x", false);
  checks::ndim(x, "x", 2);
  const i64 rows = x.shape(0);
  py::array& labels = keep(checks::int64_array(labels_obj, "labels"), "labels", false);
  checks::shape(labels, "labels", {rows});
  py::array& order = keep(checks::int64_array(order_obj, "order"), "order", false);
  const i64 order_len = order.shape(0);
  if (start < 0) throw py::value_error("start must be >= 0, got " + std::to_string(start));
  if (batch_size < 1)
    throw py::value_error("batch_size must be >= 1, got " + std::to_string(batch_size));
  if (steps < 0) throw py::value_error("steps must be >= 0, got " + std::to_string(steps));
  if (steps > 0 && (start >= order_len || (steps - 1) > (order_len - 1 - start) / batch_size))
    throw py::value_error("order has " + std::to_string(order_len) + " entries: too few for " +
                          std::to_string(steps) + " steps of " + std::to_string(batch_size) +
                          " from " + std::to_string(start));
  if (t0 < 0) throw py::value_error("t0 must be >= 0, got " + std::to_string(t0));
  if (t0 > (i64(1) << 62) - steps) throw py::value_error("t0 is too large");
  checks::adam_hyperparameters(lr, beta1, beta2, eps, weight_decay);
  const Activation act = checks::activation(activation);

  // the network, as for forward_backward, with `batch_size` rows of workspace
  const std::vector<py::sequence> lists =
      layer_lists({weights_obj, biases_obj, weight_grads_obj, bias_grads_obj, acts_obj,
                   grads_obj},
                  "adam_train_steps");
  py::array& xb = keep(checks::float32_out(xb_obj, "xb"), "xb", true);
  checks::shape(xb, "xb", {batch_size, x.shape(1)});
  py::array& yb = keep(checks::int64_array(yb_obj, "yb", true), "yb", true);
  checks::shape(yb, "yb", {batch_size});
  py::array& params = keep(checks::float32_out(params_obj, "params"), "params", true);
  checks::ndim(params, "params", 1);
  const std::vector<i64> flat = checks::shape_of(params);
  auto state = [&](py::handle obj, const char* name) -> py::array& {
    py::array& arr = keep(checks::float32_out(obj, name), name, true);
    checks::shape(arr, name, flat);
    return arr;
  };
  py::array& param_grads = state(param_grads_obj, "param_grads");
  py::array& m = state(m_obj, "m");
  py::array& v = state(v_obj, "v");

  // weights/biases are views into params, weight_grads/bias_grads into param_grads
  std::vector<Span> views;
  i64 in = x.shape(1);
  for (std::size_t i = 0; i < lists[0].size(); ++i) {
    LayerArrays l = layer_arrays(lists, i, in, batch_size);
    for (int j = 0; j < 4; ++j) {
      checks::check_inside(l.spans[j].array, l.spans[j].name, j < 2 ? params : param_grads,
                           j < 2 ? "params" : "param_grads");
      views.push_back(l.spans[j]);
    }
    for (int j = 4; j < kLists; ++j) spans.push_back(l.spans[j]);
    a.layers.push_back(l.layer);
    in = l.layer.out;
  }
  const i64 classes = a.layers.back().out;

  if (!py::isinstance<py::array_t<double>>(losses_obj))
    throw py::type_error("losses must be a float64 numpy array");
  py::array& losses = keep(py::reinterpret_borrow<py::array>(losses_obj), "losses", true);
  if (!(losses.flags() & py::array::c_style)) throw py::value_error("losses must be C-contiguous");
  if (!losses.writeable()) throw py::value_error("losses must be writable");
  checks::shape(losses, "losses", {steps});
  py::array* correct = nullptr;
  if (!correct_obj.is_none()) {
    correct = &keep(checks::int64_array(correct_obj, "correct", true), "correct", true);
    checks::shape(*correct, "correct", {steps});
  }

  std::vector<const Span*> top, grads;
  for (const Span& s : spans) top.push_back(&s);
  checks::check_disjoint(top);
  for (const Span& s : views)
    if (s.written) grads.push_back(&s);
  checks::check_disjoint(grads);  // written views: disjoint from each other (inside param_grads)

  // every index this call reads, and the label it selects, in range
  const i64* ord = static_cast<const i64*>(order.data());
  const i64* lab = static_cast<const i64*>(labels.data());
  const i64 end = std::min(order_len, start + steps * batch_size);
  for (i64 j = start; j < end; ++j) {
    if (ord[j] < 0 || ord[j] >= rows)
      throw py::value_error("order[" + std::to_string(j) + "] = " + std::to_string(ord[j]) +
                            " is out of range for x with " + std::to_string(rows) + " rows");
    if (lab[ord[j]] < 0 || lab[ord[j]] >= classes)
      throw py::value_error("labels must lie in [0, " + std::to_string(classes) + "), got " +
                            std::to_string(lab[ord[j]]) + " at index " + std::to_string(ord[j]));
  }

  a.x = checks::data(x), a.labels = lab, a.in = x.shape(1);
  a.order = ord, a.order_len = order_len;
  a.start = start, a.batch = batch_size, a.steps = steps;
  a.xb = checks::data(xb), a.yb = static_cast<i64*>(yb.mutable_data());
  a.act = act;
  a.params = checks::data(params), a.param_grads = checks::data(param_grads);
  a.m = checks::data(m), a.v = checks::data(v);
  a.count = params.size();
  a.lr = lr, a.beta1 = beta1, a.beta2 = beta2, a.eps = eps, a.weight_decay = weight_decay;
  a.t0 = t0;
  a.losses = static_cast<double*>(losses.mutable_data());
  a.correct = correct ? static_cast<i64*>(correct->mutable_data()) : nullptr;
  py::gil_scoped_release release;
  adam_train_steps(a);
}

}  // namespace

void bind_step(py::module_& mod) {
  mod.def("forward_backward", &forward_backward_binding, py::arg("x"), py::arg("labels"),
          py::arg("weights"), py::arg("biases"), py::arg("weight_grads"), py::arg("bias_grads"),
          py::arg("acts"), py::arg("grads"), py::arg("activation"),
          "Backend.forward_backward: forward and backward pass of a plain MLP (activation on "
          "hidden layers, softmax cross-entropy), on one team; returns the mean loss");
  mod.def("adam_train_steps", &adam_train_steps_binding, py::arg("x"), py::arg("labels"),
          py::arg("order"), py::arg("start"), py::arg("batch_size"), py::arg("steps"),
          py::arg("xb"), py::arg("yb"), py::arg("weights"), py::arg("biases"),
          py::arg("weight_grads"), py::arg("bias_grads"), py::arg("acts"), py::arg("grads"),
          py::arg("activation"), py::arg("params"), py::arg("param_grads"), py::arg("m"),
          py::arg("v"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"),
          py::arg("t0"), py::arg("weight_decay"), py::arg("losses"),
          py::arg("correct") = py::none(),
          "Backend.adam_train_steps: `steps` gathered minibatches, each forward_backward and "
          "one Adam step (number t0 + s + 1), on one team with the GIL released; `correct` "
          "(int64, or None) gets each step's count of rows classified right");
}

}  // namespace fastmlp::python
