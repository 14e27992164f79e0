// fastmlp._cpp functions that describe the GEMM: which bfloat16 engine runs, the caches it
// sees and the blocking it derives from them (shown by `fastmlp backends`), and, for tests,
// the blocking derivation itself and a cache-size override.
#include "gemm/gemm_bindings.h"

#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "gemm/blocking.h"
#include "gemm/gemm.h"

namespace py = pybind11;

namespace fastmlp {
namespace {

py::dict blocking_dict(const GemmBlocking& b) {
  py::dict d;
  d["mc"] = b.mc;
  d["kc"] = b.kc;
  d["nc"] = b.nc;
  d["in_place_b_bytes"] = b.in_place_b_bytes;
  d["macs_per_thread"] = b.macs_per_thread;
  return d;
}

}  // namespace

void bind_gemm_info(py::module_& mod) {
  mod.def("bf16_matmul_engine", [] { return std::string(bf16_engine_name(bf16_engine())); },
          "How bfloat16 GEMMs run under the active ISA: amx, avx512_bf16 (VDPBF16PS), or "
          "emulated (float32 panels rounded to bfloat16: slower than float32)");
  mod.def("force_bf16_matmul_engine", &force_bf16_engine, py::arg("name"),
          "For tests: bfloat16 GEMMs on this engine (amx, avx512_bf16, emulated) whatever the "
          "ISA path, '' for the best; ValueError if this CPU lacks it");
  mod.def(
      "gemm_blocking",
      [] {
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
      },
      "The caches the GEMM sees (bytes; where they came from) and the register tile and cache "
      "blocking it uses under the active ISA path and matmul precision");
  mod.def(
      "derive_gemm_blocking",
      [](std::int64_t l1d, std::int64_t l2, std::int64_t l3, int mr, int nr, int elem_bytes,
         int k_align, std::int64_t slice_depth) {
        if (mr < 1 || nr < 1 || elem_bytes < 1 || k_align < 1)
          throw py::value_error("mr, nr, elem_bytes and k_align must be >= 1");
        CacheSizes c;
        c.l1d = l1d, c.l2 = l2, c.l3 = l3;
        return blocking_dict(derive_blocking(c, mr, nr, elem_bytes, k_align, slice_depth));
      },
      py::arg("l1d"), py::arg("l2"), py::arg("l3"), py::arg("mr"), py::arg("nr"),
      py::arg("elem_bytes") = 4, py::arg("k_align") = 1, py::arg("slice_depth") = 0,
      "The blocking for these cache sizes (bytes; 0 = unknown) and register tile; mc and nc "
      "for slices slice_depth deep when > 0");
  mod.def("set_gemm_cache_sizes", &set_cache_sizes_override, py::arg("l1d"), py::arg("l2"),
          py::arg("l3"),
          "For tests: block GEMMs as if the caches had these sizes (all 0: the CPU's own)");
}

}  // namespace fastmlp
