// Argument checks for the bindings: what makes a direct call into fastmlp._cpp
// memory-safe (type, dtype, contiguity, alignment, writability, shape, aliasing, index
// ranges) and well-defined (the step number converts to int64). Hyperparameter ranges are
// Python's (fastmlp/hyperparameters.py), not restated here. Each raises TypeError (wrong
// type or dtype) or ValueError (layout, shape, aliasing, range) with a message that names
// the argument. Arrays are checked with expect<T> (the block at the end).
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

// `view` lies inside `flat` (a layer's weights inside the flat parameters).
inline void check_inside(const py::array& view, const std::string& name, const py::array& flat,
                         const char* flat_name) {
  auto p = static_cast<const char*>(view.data()), f = static_cast<const char*>(flat.data());
  if (view.nbytes() > 0 && !(p >= f && p + view.nbytes() <= f + flat.nbytes()))
    throw py::value_error(name + " must be a view into " + flat_name);
}

// A direct call's float rule, as validation.py words it (NaN fails every test).
inline void require(bool ok, const std::string& what, const char* rule, double value) {
  if (!ok)
    throw py::value_error(what + " must be " + rule + ", got " +
                          std::string(py::repr(py::float_(value))));
}

// An optimizer step number: an integer >= 1 that fits int64 (a NaN or huge double would
// make the conversion undefined).
inline void step_number(double step) {
  require(step >= 1.0 && step == std::floor(step) && step < 9.0e18, "step", "an integer >= 1",
          step);
}

}  // namespace fastmlp::checks

// ---- Declarative array expectations -------------------------------------------------------
// expect<T>(obj, name, dims, writable): `obj` is a C-contiguous, aligned, plain (not a
// subclass: plain_array) ndarray of T (float, double or int64, native byte order) with
// shape `dims` (kAnyExtent: any extent there), writable when asked. The one check a
// binding needs before it reads or writes an array's memory; TypeError (not an array,
// wrong dtype, a subclass) or ValueError (layout, alignment, shape) naming `name`.
namespace fastmlp::checks {

constexpr i64 kAnyExtent = -1;

template <class T>
const char* dtype_name();
template <>
inline const char* dtype_name<float>() { return "float32"; }
template <>
inline const char* dtype_name<double>() { return "float64"; }
template <>
inline const char* dtype_name<i64>() { return "int64"; }

// expect_any_shape<T>: the same but of any shape (an array others are shaped like).
template <class T>
py::array expect_any_shape(py::handle obj, const std::string& name, bool writable = false) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(name + " must be a numpy.ndarray, got " +
                         std::string(py::str(obj.get_type().attr("__name__"))));
  auto a = py::reinterpret_borrow<py::array>(obj);
  if (!py::isinstance<py::array_t<T>>(a))  // also rejects non-native byte order
    throw py::type_error(name + " must be " + dtype_name<T>() + ", got dtype " +
                         std::string(py::str(a.dtype())));
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(name + " must be C-contiguous (use np.ascontiguousarray)");
  plain_array(a, name);
  if (writable && !a.writeable()) throw py::value_error(name + " must be writable");
  return a;
}

template <class T>
py::array expect(py::handle obj, const std::string& name, const std::vector<i64>& dims,
                 bool writable = false) {
  py::array a = expect_any_shape<T>(obj, name, writable);
  bool fits = a.ndim() == static_cast<py::ssize_t>(dims.size());
  for (std::size_t i = 0; fits && i < dims.size(); ++i)
    fits = dims[i] == kAnyExtent || a.shape(static_cast<py::ssize_t>(i)) == dims[i];
  if (!fits) {
    std::string s = "(";
    for (std::size_t i = 0; i < dims.size(); ++i)
      s += (i ? ", " : "") + (dims[i] == kAnyExtent ? std::string("any") : std::to_string(dims[i]));
    s += dims.size() == 1 ? ",)" : ")";
    throw py::value_error(name + " must have shape " + s + ", got " + shape_str(shape_of(a)));
  }
  return a;
}

template <class T>
T* pointer(const py::array& a) { return static_cast<T*>(const_cast<void*>(a.data())); }

// An integer argument >= low (a count or an index), as a ValueError naming it.
inline void at_least(i64 value, i64 low, const char* name) {
  if (value < low)
    throw py::value_error(std::string(name) + " must be >= " + std::to_string(low) + ", got " +
                          std::to_string(value));
}

// `a` (read or written by this call) overlaps none of `written`: "<written> must not overlap <a>".
inline void check_apart(const py::array& a, const std::string& name,
                        const std::vector<Span>& written) {
  const auto lo = reinterpret_cast<std::uintptr_t>(a.data()), hi = lo + a.nbytes();
  for (const Span& s : written) {
    const auto slo = reinterpret_cast<std::uintptr_t>(s.array.data());
    if (a.nbytes() > 0 && s.array.nbytes() > 0 && lo < slo + s.array.nbytes() && slo < hi)
      throw py::value_error(s.name + " must not overlap " + name);
  }
}

}  // namespace fastmlp::checks
