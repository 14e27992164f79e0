// Bindings of the step family: the Network class (a plain MLP's arrays, parsed and checked
// once when it is built, kept referenced for its life) and forward_backward /
// adam_train_steps, which take a Network and check per call only their per-call arrays.
// The checks are the memory-safety ones (checks.h): the user-facing rules and messages are
// fastmlp/backends/validation.py's, run before a backend calls in here.
#include <pybind11/numpy.h>

#include <algorithm>
#include <string>
#include <vector>

#include "kernels/step.h"
#include "python/bindings.h"
#include "python/checks.h"

namespace py = pybind11;

namespace fastmlp::python {
namespace {

using checks::expect;
using checks::kAnyExtent;
using checks::pointer;
using checks::Span;

// The per-layer lists, in argument order: weights [out, in], biases [out],
// weight_grads [out, in], bias_grads [out], acts [batch, out], grads [batch, out].
constexpr int kLists = 6;
constexpr const char* kListNames[kLists] = {"weights",    "biases", "weight_grads",
                                            "bias_grads", "acts",   "grads"};

class Network {
 public:
  Network(py::handle weights, py::handle biases, py::handle weight_grads, py::handle bias_grads,
          py::handle acts, py::handle grads, py::handle activation, i64 batch_size,
          py::handle params, py::handle param_grads, py::handle m, py::handle v, py::handle xb,
          py::handle yb)
      : act_(checks::activation(activation)), batch_(batch_size) {
    checks::at_least(batch_size, 1, "batch_size");
    const py::handle handles[kLists] = {weights, biases, weight_grads, bias_grads, acts, grads};
    std::vector<py::sequence> lists;
    for (int j = 0; j < kLists; ++j) lists.push_back(checks::layer_list(handles[j], kListNames[j]));
    const std::size_t layers = lists[0].size();
    if (layers == 0) throw py::value_error("a network needs at least one layer");
    for (int j = 1; j < kLists; ++j)
      if (lists[j].size() != layers)
        throw py::value_error(std::string(kListNames[j]) + " has " +
                              std::to_string(lists[j].size()) + " entries but weights has " +
                              std::to_string(layers));

    // each layer's arrays, shapes chained from weights[0]'s inputs; `spans[j]` lists the
    // arrays of list j, for the overlap checks below
    std::vector<Span> spans[kLists];
    i64 in = -1;
    for (std::size_t i = 0; i < layers; ++i) {
      auto name = [&](int j) { return std::string(kListNames[j]) + "[" + std::to_string(i) + "]"; };
      py::array w = expect<float>(lists[0][i], name(0), {kAnyExtent, kAnyExtent});
      if (i == 0) in_ = in = w.shape(1);
      const i64 out = w.shape(0);
      if (w.shape(1) != in) expect<float>(w, name(0), {out, in});  // raises, naming the shape
      const py::array arrays[kLists] = {
          w,
          expect<float>(lists[1][i], name(1), {out}),
          expect<float>(lists[2][i], name(2), {out, in}, true),
          expect<float>(lists[3][i], name(3), {out}, true),
          expect<float>(lists[4][i], name(4), {batch_size, out}, true),
          expect<float>(lists[5][i], name(5), {batch_size, out}, true)};
      for (int j = 0; j < kLists; ++j) spans[j].push_back({arrays[j], name(j), j > 1});
      layers_.push_back({in, out, pointer<float>(arrays[0]), pointer<float>(arrays[1]),
                         pointer<float>(arrays[2]), pointer<float>(arrays[3]),
                         pointer<float>(arrays[4]), pointer<float>(arrays[5])});
      in = out;
    }
    classes_ = in;
    for (int j = 2; j < kLists; ++j)  // what forward_backward writes
      pass_written_.insert(pass_written_.end(), spans[j].begin(), spans[j].end());

    // optional: the flat params / param_grads the layers view, Adam's m and v (like
    // params), the minibatch buffers xb and yb; all of them for adam_train_steps
    std::vector<Span> all;  // for the overlap check: flat arrays stand for their views
    if (params.is_none() != param_grads.is_none())
      throw py::value_error("params and param_grads go together");
    if (!params.is_none()) {
      py::array flat = expect<float>(params, "params", {kAnyExtent}, true);
      count_ = flat.shape(0);
      py::array flat_grads = expect<float>(param_grads, "param_grads", {count_}, true);
      for (int j = 0; j < 4; ++j)  // weights, biases in params; their gradients in param_grads
        for (const Span& s : spans[j])
          checks::check_inside(s.array, s.name, j < 2 ? flat : flat_grads,
                               j < 2 ? "params" : "param_grads");
      std::vector<Span> grad_views = spans[2];  // written: apart from each other
      grad_views.insert(grad_views.end(), spans[3].begin(), spans[3].end());
      checks::check_disjoint(grad_views);
      params_ = pointer<float>(flat), param_grads_ = pointer<float>(flat_grads);
      all = {{flat, "params", true}, {flat_grads, "param_grads", true}};
      keep(grad_views);
    } else {
      for (int j = 0; j < 4; ++j) all.insert(all.end(), spans[j].begin(), spans[j].end());
    }
    for (int j = 4; j < kLists; ++j) all.insert(all.end(), spans[j].begin(), spans[j].end());
    keep(spans[0]), keep(spans[1]);
    if (!m.is_none() || !v.is_none()) {
      if (params_ == nullptr)
        throw py::value_error("Adam's m and v need the flat params they belong to");
      py::array mm = expect<float>(m, "m", {count_}, true), vv = expect<float>(v, "v", {count_}, true);
      m_ = pointer<float>(mm), v_ = pointer<float>(vv);
      all.push_back({mm, "m", true}), all.push_back({vv, "v", true});
    }
    if (!xb.is_none() || !yb.is_none()) {
      py::array xbuf = expect<float>(xb, "xb", {batch_size, in_}, true);
      py::array ybuf = expect<i64>(yb, "yb", {batch_size}, true);
      xb_ = pointer<float>(xbuf), yb_ = pointer<i64>(ybuf);
      all.push_back({xbuf, "xb", true}), all.push_back({ybuf, "yb", true});
    }
    checks::check_disjoint(all);
    for (const Span& s : all)
      if (s.written) steps_written_.push_back(s);
    keep(all);
  }

  // forward_backward on the first x.shape[0] rows of the workspaces
  double forward_backward(py::handle x_obj, py::handle labels_obj) const {
    py::array x = expect<float>(x_obj, "x", {kAnyExtent, in_});
    const i64 n = x.shape(0);
    if (n < 1 || n > batch_)
      throw py::value_error("x has " + std::to_string(n) + " rows; the network takes 1 to " +
                            std::to_string(batch_) + " (its batch_size)");
    const i64* labels = checks::labels(labels_obj, n, classes_);
    checks::check_apart(x, "x", pass_written_);
    checks::check_apart(py::reinterpret_borrow<py::array>(labels_obj), "labels", pass_written_);
    py::gil_scoped_release release;
    return fastmlp::forward_backward(pointer<float>(x), labels, n, layers_, act_);
  }

  void adam_train_steps(py::handle x_obj, py::handle labels_obj, py::handle order_obj, i64 start,
                        i64 steps, double lr, double beta1, double beta2, double eps, i64 t0,
                        double weight_decay, py::handle losses_obj,
                        py::handle correct_obj) const {
    if (m_ == nullptr || xb_ == nullptr)
      throw py::value_error("adam_train_steps needs a Network with params, param_grads, m, v, "
                            "xb and yb");
    checks::at_least(start, 0, "start");
    checks::at_least(steps, 0, "steps");
    checks::at_least(t0, 0, "t0");
    if (t0 > (i64(1) << 62) - steps) throw py::value_error("t0 is too large");
    py::array x = expect<float>(x_obj, "x", {kAnyExtent, in_});
    const i64 rows = x.shape(0);
    py::array labels = expect<i64>(labels_obj, "labels", {rows});
    py::array order = expect<i64>(order_obj, "order", {kAnyExtent});
    py::array losses = expect<double>(losses_obj, "losses", {steps}, true);
    const i64 order_len = order.shape(0);
    if (steps > 0 && (start >= order_len || (steps - 1) > (order_len - 1 - start) / batch_))
      throw py::value_error("order has " + std::to_string(order_len) + " entries: too few for " +
                            std::to_string(steps) + " steps of " + std::to_string(batch_) +
                            " from " + std::to_string(start));
    std::vector<Span> written = steps_written_;
    checks::check_apart(losses, "losses", written);
    written.push_back({losses, "losses", true});
    i64* correct = nullptr;  // None: don't count
    if (!correct_obj.is_none()) {
      py::array counts = expect<i64>(correct_obj, "correct", {steps}, true);
      checks::check_apart(counts, "correct", written);
      written.push_back({counts, "correct", true});
      correct = pointer<i64>(counts);
    }
    checks::check_apart(x, "x", written);
    checks::check_apart(labels, "labels", written);
    checks::check_apart(order, "order", written);
    // every index this call reads, and the label it selects, in range
    const i64* ord = pointer<i64>(order);
    const i64* lab = pointer<i64>(labels);
    for (i64 j = start, end = std::min(order_len, start + steps * batch_); j < end; ++j) {
      if (ord[j] < 0 || ord[j] >= rows)
        throw py::value_error("order[" + std::to_string(j) + "] = " + std::to_string(ord[j]) +
                              " is out of range for x with " + std::to_string(rows) + " rows");
      if (lab[ord[j]] < 0 || lab[ord[j]] >= classes_)
        throw py::value_error("labels must lie in [0, " + std::to_string(classes_) + "), got " +
                              std::to_string(lab[ord[j]]) + " at index " + std::to_string(ord[j]));
    }
    TrainSteps a;
    a.x = pointer<float>(x), a.labels = lab, a.rows = rows, a.in = in_;
    a.order = ord, a.order_len = order_len;
    a.start = start, a.batch = batch_, a.steps = steps;
    a.xb = xb_, a.yb = yb_;
    a.layers = layers_;
    a.act = act_;
    a.params = params_, a.param_grads = param_grads_, a.m = m_, a.v = v_, a.count = count_;
    a.lr = lr, a.beta1 = beta1, a.beta2 = beta2, a.eps = eps, a.weight_decay = weight_decay;
    a.t0 = t0;
    a.losses = pointer<double>(losses);
    a.correct = correct;
    py::gil_scoped_release release;
    fastmlp::adam_train_steps(a);
  }

  i64 batch_size() const { return batch_; }
  std::size_t layers() const { return layers_.size(); }

 private:
  void keep(const std::vector<Span>& spans) {
    for (const Span& s : spans) arrays_.push_back(s.array);
  }

  std::vector<py::array> arrays_;  // every array the pointers below point into
  std::vector<DenseLayer> layers_;
  Activation act_;
  i64 batch_, in_ = 0, classes_ = 0, count_ = 0;
  float *params_ = nullptr, *param_grads_ = nullptr, *m_ = nullptr, *v_ = nullptr;
  float* xb_ = nullptr;
  i64* yb_ = nullptr;
  std::vector<Span> pass_written_;   // what forward_backward writes
  std::vector<Span> steps_written_;  // what adam_train_steps writes (flat arrays for views)
};

}  // namespace

void bind_step(py::module_& mod) {
  py::class_<Network>(mod, "Network",
                      "A plain MLP's arrays (fastmlp.backends.NetworkState), parsed and checked "
                      "once and kept referenced: what forward_backward and adam_train_steps run on")
      .def(py::init<py::handle, py::handle, py::handle, py::handle, py::handle, py::handle,
                    py::handle, i64, py::handle, py::handle, py::handle, py::handle, py::handle,
                    py::handle>(),
           py::arg("weights"), py::arg("biases"), py::arg("weight_grads"),
           py::arg("bias_grads"), py::arg("acts"), py::arg("grads"), py::arg("activation"),
           py::arg("batch_size"), py::arg("params") = py::none(),
           py::arg("param_grads") = py::none(), py::arg("m") = py::none(),
           py::arg("v") = py::none(), py::arg("xb") = py::none(), py::arg("yb") = py::none(),
           "Per-layer lists (weights [out, in], biases [out], their gradients, acts and grads "
           "[batch_size, out]); for adam_train_steps also the flat params / param_grads the "
           "layers view, Adam's m and v, and the minibatch buffers xb, yb")
      .def_property_readonly("batch_size", &Network::batch_size)
      .def_property_readonly("layers", &Network::layers);
  mod.def(
      "forward_backward",
      [](const Network& network, py::handle x, py::handle labels) {
        return network.forward_backward(x, labels);
      },
      py::arg("network"), py::arg("x"), py::arg("labels"),
      "Backend.forward_backward: forward and backward pass of a plain MLP (activation on "
      "hidden layers, softmax cross-entropy) on the first x.shape[0] rows of the network's "
      "workspaces, on one team; returns the mean loss");
  mod.def(
      "adam_train_steps",
      [](const Network& network, py::handle x, py::handle labels, py::handle order, i64 start,
         i64 steps, double lr, double beta1, double beta2, double eps, i64 t0,
         double weight_decay, py::handle losses, py::handle correct) {
        network.adam_train_steps(x, labels, order, start, steps, lr, beta1, beta2, eps, t0,
                                 weight_decay, losses, correct);
      },
      py::arg("network"), py::arg("x"), py::arg("labels"), py::arg("order"), py::arg("start"),
      py::arg("steps"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"),
      py::arg("t0"), py::arg("weight_decay"), py::arg("losses"), py::arg("correct") = py::none(),
      "Backend.adam_train_steps: `steps` gathered minibatches, each forward_backward and "
      "one Adam step (number t0 + s + 1), on one team with the GIL released; `correct` "
      "(int64, or None) gets each step's count of rows classified right");
}

}  // namespace fastmlp::python
