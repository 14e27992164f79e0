// Argument checks for the bindings: what makes a direct call into fastmlp._cpp
// memory-safe (type, dtype, contiguity, writability, shape, aliasing, index ranges) and the
// hyperparameter ranges. Each raises TypeError (wrong type or dtype) or ValueError
// (layout, shape, aliasing, range) with a message that names the argument, worded as
// fastmlp/backends/validation.py words it.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kernels/ops/activation.h"

namespace fastmlp::checks {

namespace py = pybind11;
using i64 = std::int64_t;

inline std::string shape_str(const std::vector<i64>& dims) {
  std::string s = "(";
  for (std::size_t i = 0; i < dims.size(); ++i)
    s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

inline std::vector<i64> shape_of(const py::array& a) {
  return std::vector<i64>(a.shape(), a.shape() + a.ndim());
}

// An ndarray itself, not a subclass (np.matrix and masked arrays index and compute
// differently), whose elements are aligned to their type (the kernels read them as such).
// validation._plain: the same rule and wording.
inline void plain_array(const py::array& a, const std::string& name) {
  const auto& api = py::detail::npy_api::get();
  if (Py_TYPE(a.ptr()) != api.PyArray_Type_) {
    const py::handle type = a.get_type();
    throw py::type_error(name + " must be a plain numpy.ndarray, got the subclass " +
                         std::string(py::str(type.attr("__module__"))) + "." +
                         std::string(py::str(type.attr("__name__"))) + " (use np.asarray)");
  }
  if (!(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
    throw py::value_error(name + " is not aligned to its dtype (a view at a byte offset; "
                          "copy it with np.array)");
}

// A float32, C-contiguous ndarray (writable when `writable`).
inline py::array float32_array(const py::handle& obj, const std::string& name,
                               bool writable = false) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(name + " must be a numpy.ndarray, got " +
                         std::string(py::str(obj.get_type().attr("__name__"))));
  auto a = py::reinterpret_borrow<py::array>(obj);
  if (!py::isinstance<py::array_t<float>>(a))  // also rejects non-native byte order
    throw py::type_error(name + " must be float32, got dtype " + std::string(py::str(a.dtype())));
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(name + " must be C-contiguous (use np.ascontiguousarray)");
  plain_array(a, name);
  if (writable && !a.writeable()) throw py::value_error(name + " must be writable");
  return a;
}

inline py::array float32_out(const py::handle& obj, const std::string& name) {
  return float32_array(obj, name, true);
}

inline float* data(const py::array& a) { return static_cast<float*>(const_cast<void*>(a.data())); }

inline void ndim(const py::array& a, const std::string& name, int expected) {
  if (a.ndim() != expected)
    throw py::value_error(name + " must be " + std::to_string(expected) + "-D, got shape " +
                          shape_str(shape_of(a)));
}

inline void shape(const py::array& a, const std::string& name, const std::vector<i64>& expected) {
  if (shape_of(a) != expected)
    throw py::value_error(name + " must have shape " + shape_str(expected) + ", got " +
                          shape_str(shape_of(a)));
}

// Contiguous int64 labels of shape (n,), each in [0, classes).
inline const i64* labels(const py::handle& obj, i64 n, i64 classes) {
  if (!py::isinstance<py::array_t<i64>>(obj))
    throw py::type_error("labels must be an int64 numpy array, got " +
                         std::string(py::str(py::hasattr(obj, "dtype") ? obj.attr("dtype")
                                                                        : obj.get_type().attr("__name__"))));
  auto a = py::reinterpret_borrow<py::array>(obj);
  if (a.ndim() != 1 || a.shape(0) != n || !(a.flags() & py::array::c_style))
    throw py::value_error("labels must be contiguous with shape " + shape_str({n}) + ", got " +
                          shape_str(shape_of(a)));
  plain_array(a, "labels");
  const i64* y = static_cast<const i64*>(a.data());
  for (i64 i = 0; i < n; ++i)
    if (y[i] < 0 || y[i] >= classes)
      throw py::value_error("labels must lie in [0, " + std::to_string(classes) + "), got " +
                            std::to_string(y[i]) + " at index " + std::to_string(i));
  return y;
}

inline Activation activation(const py::handle& obj) {
  static const char* const names[] = {"identity", "relu", "leaky_relu", "sigmoid", "tanh"};
  if (py::isinstance<py::str>(obj)) {
    const std::string s = obj.cast<std::string>();
    for (int i = 0; i < 5; ++i)
      if (s == names[i]) return static_cast<Activation>(i);
  }
  throw py::value_error("unknown activation " + std::string(py::repr(obj)) +
                        "; known: identity, relu, leaky_relu, sigmoid, tanh");
}

// One array of a call, named like "weights[2]", and whether the call writes it.
struct Span {
  py::array array;
  std::string name;
  bool written;
};

// A written array may overlap no other. One sweep over the arrays in address order (then
// size, then name, as validation._check_disjoint sorts them). The message names a written
// array of the overlapping pair first, the one listed first if both are written ("param
// must not overlap grad").
inline void check_disjoint(const std::vector<const Span*>& spans) {
  std::vector<std::size_t> order;  // indices into spans, of the non-empty arrays
  for (std::size_t i = 0; i < spans.size(); ++i)
    if (spans[i]->array.nbytes() > 0) order.push_back(i);
  auto start_of = [&](std::size_t i) {
    return reinterpret_cast<std::uintptr_t>(spans[i]->array.data());
  };
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (start_of(a) != start_of(b)) return start_of(a) < start_of(b);
    const auto size_a = spans[a]->array.nbytes(), size_b = spans[b]->array.nbytes();
    if (size_a != size_b) return size_a < size_b;
    return spans[a]->name < spans[b]->name;
  });
  std::uintptr_t end = 0;
  std::size_t end_owner = spans.size();  // the array reaching furthest so far
  for (std::size_t i : order) {
    const std::uintptr_t start = start_of(i);
    if (end_owner < spans.size() && start < end &&
        (spans[i]->written || spans[end_owner]->written)) {
      std::size_t first = std::min(i, end_owner), second = std::max(i, end_owner);
      if (!spans[first]->written) std::swap(first, second);
      throw py::value_error(spans[first]->name + " must not overlap " + spans[second]->name);
    }
    if (end_owner == spans.size() || start + spans[i]->array.nbytes() > end) {
      end = start + spans[i]->array.nbytes();
      end_owner = i;
    }
  }
}

inline void check_disjoint(const std::vector<Span>& spans) {
  std::vector<const Span*> all;
  for (const Span& s : spans) all.push_back(&s);
  check_disjoint(all);
}

// A list-of-arrays argument (per-layer weights, activations, ...).
inline py::sequence layer_list(py::handle obj, const char* name) {
  if (!py::isinstance<py::sequence>(obj) || py::isinstance<py::str>(obj))
    throw py::type_error(std::string(name) + " must be a list of arrays, got " +
                         std::string(py::str(obj.get_type().attr("__name__"))));
  return py::reinterpret_borrow<py::sequence>(obj);
}

// A contiguous 1-D int64 array (writable when `writable`).
inline py::array int64_array(py::handle obj, const std::string& name, bool writable = false) {
  if (!py::isinstance<py::array_t<i64>>(obj))
    throw py::type_error(name + " must be an int64 numpy array, got " +
                         std::string(py::str(py::hasattr(obj, "dtype")
                                                 ? obj.attr("dtype")
                                                 : obj.get_type().attr("__name__"))));
  auto a = py::reinterpret_borrow<py::array>(obj);
  if (a.ndim() != 1 || !(a.flags() & py::array::c_style))
    throw py::value_error(name + " must be a contiguous 1-D array, got shape " +
                          shape_str(shape_of(a)));
  plain_array(a, name);
  if (writable && !a.writeable()) throw py::value_error(name + " must be writable");
  return a;
}

// `view` lies inside `flat` (a layer's weights inside the flat parameters).
inline void check_inside(const py::array& view, const std::string& name, const py::array& flat,
                         const char* flat_name) {
  auto p = static_cast<const char*>(view.data()), f = static_cast<const char*>(flat.data());
  if (view.nbytes() > 0 && !(p >= f && p + view.nbytes() <= f + flat.nbytes()))
    throw py::value_error(name + " must be a view into " + flat_name);
}

// Hyperparameter rules, as validation.py words them (NaN fails every test).
inline void require(bool ok, const std::string& what, const char* rule, double value) {
  if (!ok)
    throw py::value_error(what + " must be " + rule + ", got " +
                          std::string(py::repr(py::float_(value))));
}

inline void check_lr(double lr) { require(lr >= 0.0, "lr", ">= 0", lr); }
inline void check_weight_decay(double wd) { require(wd >= 0.0, "weight_decay", ">= 0", wd); }
inline void check_momentum(double m) { require(m >= 0.0 && m < 1.0, "momentum", "in [0, 1)", m); }
inline void check_eps(double eps, const std::string& what = "eps") {
  require(eps > 0.0, what, "> 0", eps);
}

// validation.check_adam_hyperparameters (Adam, AdamW and the fused Adam steps).
inline void adam_hyperparameters(double lr, double beta1, double beta2, double eps, double wd) {
  check_lr(lr);
  require(beta1 >= 0.0 && beta1 < 1.0, "beta1", "in [0, 1)", beta1);
  require(beta2 >= 0.0 && beta2 < 1.0, "beta2", "in [0, 1)", beta2);
  check_eps(eps);
  check_weight_decay(wd);
}

// An optimizer step number: an integer >= 1 that fits int64.
inline void step_number(double step) {
  require(step >= 1.0 && step == std::floor(step) && step < 9.0e18, "step", "an integer >= 1",
          step);
}

}  // namespace fastmlp::checks
