// pybind11 binding of adam_train_steps (csrc/train_steps.h), registered by bindings.cpp.
// Checks everything validation.check_adam_train_steps checks, with the same exception
// types, before touching memory: out-of-range `order` entries or labels raise ValueError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "arg_checks.h"
#include "train_steps.h"

namespace py = pybind11;
namespace chk = fastmlp::checks;
using i64 = std::int64_t;

namespace {

using chk::Span;
using chk::check_disjoint;
using chk::layer_list;

py::array int64_array(py::handle obj, const std::string& name, bool writable = false) {
  if (!py::isinstance<py::array_t<i64>>(obj))
    throw py::type_error(name + " must be an int64 numpy array, got " +
                         std::string(py::str(py::hasattr(obj, "dtype")
                                                 ? obj.attr("dtype")
                                                 : obj.get_type().attr("__name__"))));
  auto a = py::reinterpret_borrow<py::array>(obj);
  if (a.ndim() != 1 || !(a.flags() & py::array::c_style))
    throw py::value_error(name + " must be a contiguous 1-D array, got shape " +
                          chk::shape_str(chk::shape_of(a)));
  if (writable && !a.writeable()) throw py::value_error(name + " must be writable");
  return a;
}

void check_inside(const py::array& view, const std::string& name, const py::array& flat,
                  const char* flat_name) {
  auto p = static_cast<const char*>(view.data()), f = static_cast<const char*>(flat.data());
  if (view.nbytes() > 0 && !(p >= f && p + view.nbytes() <= f + flat.nbytes()))
    throw py::value_error(name + " must be a view into " + flat_name);
}

void adam_train_steps(py::handle x_obj, py::handle labels_obj, py::handle order_obj, i64 start,
                      i64 batch_size, i64 steps, py::handle xb_obj, py::handle yb_obj,
                      py::handle weights_obj, py::handle biases_obj, py::handle weight_grads_obj,
                      py::handle bias_grads_obj, py::handle acts_obj, py::handle grads_obj,
                      py::handle activation, py::handle params_obj, py::handle param_grads_obj,
                      py::handle m_obj, py::handle v_obj, double lr, double beta1, double beta2,
                      double eps, i64 t0, double weight_decay, py::handle losses_obj) {
  fastmlp::TrainSteps a;
  std::deque<Span> spans;  // every array, kept referenced while the GIL is released
  auto keep = [&](py::array arr, std::string name, bool written) -> py::array& {
    spans.push_back({std::move(arr), std::move(name), written});
    return spans.back().array;
  };

  // the data and the chunk of `order` this call reads
  py::array& x = keep(chk::float32_array(x_obj, "x"), "x", false);
  chk::ndim(x, "x", 2);
  const i64 rows = x.shape(0);
  py::array& labels = keep(int64_array(labels_obj, "labels"), "labels", false);
  chk::shape(labels, "labels", {rows});
  py::array& order = keep(int64_array(order_obj, "order"), "order", false);
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
  chk::adam_hyperparameters(lr, beta1, beta2, eps, weight_decay);
  const fastmlp::Activation act = chk::activation(activation);

  // the network, as for forward_backward, with `batch_size` rows of workspace
  const char* list_names[] = {"weights", "biases", "weight_grads", "bias_grads", "acts", "grads"};
  const py::handle list_objs[] = {weights_obj, biases_obj, weight_grads_obj,
                                  bias_grads_obj, acts_obj, grads_obj};
  std::vector<py::sequence> lists;
  for (int j = 0; j < 6; ++j) lists.push_back(layer_list(list_objs[j], list_names[j]));
  const std::size_t layers = lists[0].size();
  if (layers == 0) throw py::value_error("adam_train_steps needs at least one layer");
  for (int j = 1; j < 6; ++j)
    if (lists[j].size() != layers)
      throw py::value_error(std::string(list_names[j]) + " has " +
                            std::to_string(lists[j].size()) + " entries but weights has " +
                            std::to_string(layers));
  py::array& xb = keep(chk::float32_out(xb_obj, "xb"), "xb", true);
  chk::shape(xb, "xb", {batch_size, x.shape(1)});
  py::array& yb = keep(int64_array(yb_obj, "yb", true), "yb", true);
  chk::shape(yb, "yb", {batch_size});
  py::array& params = keep(chk::float32_out(params_obj, "params"), "params", true);
  chk::ndim(params, "params", 1);
  const std::vector<i64> flat = chk::shape_of(params);
  auto state = [&](py::handle obj, const char* name) -> py::array& {
    py::array& arr = keep(chk::float32_out(obj, name), name, true);
    chk::shape(arr, name, flat);
    return arr;
  };
  py::array& param_grads = state(param_grads_obj, "param_grads");
  py::array& m = state(m_obj, "m");
  py::array& v = state(v_obj, "v");

  std::vector<Span> views;  // weights/biases in params, weight_grads/bias_grads in param_grads
  views.reserve(4 * layers);
  a.layers.resize(layers);
  i64 in = x.shape(1);
  for (std::size_t i = 0; i < layers; ++i) {
    auto name_of = [&](int j) { return std::string(list_names[j]) + "[" + std::to_string(i) + "]"; };
    py::array w = chk::float32_array(lists[0][i], name_of(0));
    chk::ndim(w, name_of(0), 2);
    const i64 out = w.shape(0);
    if (w.shape(1) != in)
      throw py::value_error(name_of(0) + " has shape " + chk::shape_str(chk::shape_of(w)) +
                            ", expected " + chk::shape_str({out, in}));
    const std::vector<i64> shapes[] = {{out, in}, {out}, {out, in}, {out}, {batch_size, out},
                                       {batch_size, out}};
    py::array arr[6];
    arr[0] = w;
    for (int j = 1; j < 6; ++j) {
      arr[j] = chk::float32_array(lists[j][i], name_of(j), j > 1);
      chk::shape(arr[j], name_of(j), shapes[j]);
    }
    for (int j = 0; j < 4; ++j) {
      check_inside(arr[j], name_of(j), j < 2 ? params : param_grads,
                   j < 2 ? "params" : "param_grads");
      views.push_back({arr[j], name_of(j), j >= 2});
    }
    for (int j = 4; j < 6; ++j) keep(arr[j], name_of(j), true);
    fastmlp::DenseLayer& l = a.layers[i];
    l.in = in, l.out = out;
    l.w = chk::data(arr[0]), l.b = chk::data(arr[1]);
    l.w_grad = chk::data(arr[2]), l.b_grad = chk::data(arr[3]);
    l.act = chk::data(arr[4]), l.grad = chk::data(arr[5]);
    in = out;
  }
  const i64 classes = a.layers.back().out;

  if (!py::isinstance<py::array_t<double>>(losses_obj))
    throw py::type_error("losses must be a float64 numpy array");
  py::array& losses =
      keep(py::reinterpret_borrow<py::array>(losses_obj), "losses", true);
  if (!(losses.flags() & py::array::c_style)) throw py::value_error("losses must be C-contiguous");
  if (!losses.writeable()) throw py::value_error("losses must be writable");
  chk::shape(losses, "losses", {steps});

  std::vector<const Span*> top, grads;
  for (const Span& s : spans) top.push_back(&s);
  check_disjoint(top);
  for (const Span& s : views)
    if (s.written) grads.push_back(&s);
  check_disjoint(grads);  // written views: disjoint from each other (inside param_grads)

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

  a.x = chk::data(x), a.labels = lab, a.in = x.shape(1);
  a.order = ord, a.order_len = order_len;
  a.start = start, a.batch = batch_size, a.steps = steps;
  a.xb = chk::data(xb), a.yb = static_cast<i64*>(yb.mutable_data());
  a.act = act;
  a.params = chk::data(params), a.param_grads = chk::data(param_grads);
  a.m = chk::data(m), a.v = chk::data(v);
  a.count = params.size();
  a.lr = lr, a.beta1 = beta1, a.beta2 = beta2, a.eps = eps, a.weight_decay = weight_decay;
  a.t0 = t0;
  a.losses = static_cast<double*>(losses.mutable_data());
  py::gil_scoped_release release;
  fastmlp::adam_train_steps(a);
}

}  // namespace

void bind_train_steps(py::module_& mod) {
  mod.def("adam_train_steps", &adam_train_steps, py::arg("x"), py::arg("labels"),
          py::arg("order"), py::arg("start"), py::arg("batch_size"), py::arg("steps"),
          py::arg("xb"), py::arg("yb"), py::arg("weights"), py::arg("biases"),
          py::arg("weight_grads"), py::arg("bias_grads"), py::arg("acts"), py::arg("grads"),
          py::arg("activation"), py::arg("params"), py::arg("param_grads"), py::arg("m"),
          py::arg("v"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"),
          py::arg("t0"), py::arg("weight_decay"), py::arg("losses"),
          "Backend.adam_train_steps: `steps` gathered minibatches, each forward_backward and "
          "one Adam step (number t0 + s + 1), on one team with the GIL released");
}
