// Bindings of the GEMM family: gemm, and the dense layer's dense_forward and bias_grad; and
// what describes the GEMM: the caches it sees and the blocking it derives from them (shown by
// `fastmlp backends`), and, for tests, the blocking derivation itself and a cache override.
#include <pybind11/numpy.h>

#include <optional>
#include <string>

#include "gemm/blocking.h"
#include "gemm/dense.h"
#include "gemm/gemm.h"
#include "python/bindings.h"
#include "python/checks.h"

namespace py = pybind11;

namespace fastmlp::python {
namespace {

void gemm_binding(py::handle a_obj, py::handle b_obj, py::handle out_obj, bool trans_a,
                  bool trans_b, double alpha, double beta) {
  using checks::kAnyExtent;
  py::array a = checks::expect<float>(a_obj, "a", {kAnyExtent, kAnyExtent});
  py::array b = checks::expect<float>(b_obj, "b", {kAnyExtent, kAnyExtent});
  const i64 m = trans_a ? a.shape(1) : a.shape(0), k = trans_a ? a.shape(0) : a.shape(1);
  const i64 kb = trans_b ? b.shape(1) : b.shape(0), n = trans_b ? b.shape(0) : b.shape(1);
  if (k != kb)
    throw py::value_error("inner dimensions differ: op(a) is " + std::to_string(m) + "x" +
                          std::to_string(k) + " but op(b) is " + std::to_string(kb) + "x" +
                          std::to_string(n));
  py::array out = checks::expect<float>(out_obj, "out", {m, n}, true);
  checks::check_disjoint({{out, "out", true}, {a, "a", false}, {b, "b", false}});
  GemmProblem p;
  p.a = checks::pointer<float>(a), p.lda = a.shape(1), p.trans_a = trans_a;
  p.b = checks::pointer<float>(b), p.ldb = b.shape(1), p.trans_b = trans_b;
  p.c = checks::pointer<float>(out), p.ldc = n;
  p.m = m, p.n = n, p.k = k;
  p.alpha = static_cast<float>(alpha), p.beta = static_cast<float>(beta);
  py::gil_scoped_release release;
  gemm(p);
}

void dense_forward_binding(py::handle x_obj, py::handle w_obj, py::handle b_obj,
                           py::handle out_obj, py::handle activation, py::handle pre_obj) {
  using checks::kAnyExtent;
  py::array x = checks::expect<float>(x_obj, "x", {kAnyExtent, kAnyExtent});
  const i64 n = x.shape(0), k = x.shape(1);
  py::array w = checks::expect<float>(w_obj, "w", {kAnyExtent, k});  // [out, in]
  const i64 f = w.shape(0);
  py::array b = checks::expect<float>(b_obj, "b", {f});
  py::array out = checks::expect<float>(out_obj, "out", {n, f}, true);
  const Activation act = checks::activation(activation);
  checks::check_disjoint({{out, "out", true}, {x, "x", false}, {w, "w", false}, {b, "b", false}});
  float* pre_data = nullptr;
  std::optional<py::array> pre;
  if (!pre_obj.is_none()) {
    pre = checks::expect<float>(pre_obj, "pre", {n, f}, true);
    checks::check_disjoint({{*pre, "pre", true}, {out, "out", true}, {x, "x", false},
                            {w, "w", false}, {b, "b", false}});
    pre_data = checks::pointer<float>(*pre);
  }
  py::gil_scoped_release release;
  dense_forward(checks::pointer<float>(x), checks::pointer<float>(w), checks::pointer<float>(b), checks::pointer<float>(out), pre_data,
                n, k, f, act);
}

void bias_grad_binding(py::handle grad_obj, py::handle out_obj) {
  py::array grad = checks::expect<float>(grad_obj, "grad", {checks::kAnyExtent, checks::kAnyExtent});
  py::array out = checks::expect<float>(out_obj, "out", {grad.shape(1)}, true);
  checks::check_disjoint({{out, "out", true}, {grad, "grad", false}});
  const i64 rows = grad.shape(0), cols = grad.shape(1);
  py::gil_scoped_release release;
  bias_grad(checks::pointer<float>(grad), rows, cols, checks::pointer<float>(out));
}

py::dict blocking_dict(const GemmBlocking& b) {
  py::dict d;
  d["mc"] = b.mc;
  d["kc"] = b.kc;
  d["nc"] = b.nc;
  d["in_place_b_bytes"] = b.in_place_b_bytes;
  d["macs_per_thread"] = b.macs_per_thread;
  return d;
}

py::dict gemm_blocking_binding() {
  const GemmPlan plan = gemm_plan();
  py::dict d = blocking_dict(plan.blocking);
  d["mr"] = plan.mr;
  d["nr"] = plan.nr;
  d["l1d"] = plan.caches.l1d;
  d["l2"] = plan.caches.l2;
  d["l3"] = plan.caches.l3;
  d["l3_sharing"] = plan.caches.l3_sharing;
  d["cache_source"] = std::string(plan.caches.source);
  return d;
}

py::dict derive_gemm_blocking_binding(i64 l1d, i64 l2, i64 l3, int mr, int nr, int elem_bytes,
                                      int k_align, i64 slice_depth) {
  if (mr < 1 || nr < 1 || elem_bytes < 1 || k_align < 1)
    throw py::value_error("mr, nr, elem_bytes and k_align must be >= 1");
  CacheSizes c;
  c.l1d = l1d, c.l2 = l2, c.l3 = l3;
  return blocking_dict(derive_blocking(c, mr, nr, elem_bytes, k_align, slice_depth));
}

}  // namespace

void bind_gemm(py::module_& mod) {
  mod.def("gemm", &gemm_binding, py::arg("a"), py::arg("b"), py::arg("out"),
          py::arg("trans_a") = false, py::arg("trans_b") = false, py::arg("alpha") = 1.0,
          py::arg("beta") = 0.0,
          "out = alpha * op(a) @ op(b) + beta * out in float32 (op transposes when asked), "
          "at the matmul precision in force");
  mod.def("dense_forward", &dense_forward_binding, py::arg("x"), py::arg("w"), py::arg("b"),
          py::arg("out"), py::arg("activation"), py::arg("pre") = py::none(),
          "out = activation(x @ w.T + b), bias and activation fused into the GEMM; the "
          "pre-activation goes to pre when given");
  mod.def("bias_grad", &bias_grad_binding, py::arg("grad"), py::arg("out"),
          "out = grad.sum(axis=0), rows added in order");
  mod.def("gemm_blocking", &gemm_blocking_binding,
          "The caches the GEMM sees (bytes; where they came from) and the register tile and cache "
          "blocking it uses under the active ISA path and matmul precision");
  mod.def("derive_gemm_blocking", &derive_gemm_blocking_binding, py::arg("l1d"), py::arg("l2"),
          py::arg("l3"), py::arg("mr"), py::arg("nr"), py::arg("elem_bytes") = 4,
          py::arg("k_align") = 1, py::arg("slice_depth") = 0,
          "The blocking for these cache sizes (bytes; 0 = unknown) and register tile; mc and nc "
          "for slices slice_depth deep when > 0");
  mod.def("set_gemm_cache_sizes", &set_cache_sizes_override, py::arg("l1d"), py::arg("l2"),
          py::arg("l3"),
          "For tests: block GEMMs as if the caches had these sizes (all 0: the CPU's own)");
}

}  // namespace fastmlp::python
