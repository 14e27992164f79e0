// Bindings of the runtime settings: ISA path, matmul precision, threads, denormals.
#include <string>

#include "python/bindings.h"
#include "runtime/isa.h"
#include "runtime/settings.h"

namespace py = pybind11;

namespace fastmlp::python {

void bind_runtime(py::module_& mod) {
  // Reads FASTMLP_ISA now: a bad value fails the import with a message naming it.
  active_isa();
  mod.def("isa", [] { return std::string(isa_name(active_isa())); },
          "ISA of the kernels in use: avx512, avx2 or generic");
  mod.def("set_isa", &set_isa, py::arg("name"),
          "Use a lower ISA path (for testing); ValueError if the CPU lacks it");
  mod.def("cpu_supports", [](const std::string& name) { return cpu_supports(parse_isa(name)); },
          "Whether this CPU can run an ISA path (avx512, avx2 or generic)");
  mod.def("matmul_precision", [] { return std::string(matmul_precision_name(matmul_precision())); },
          "Precision of every float32 GEMM: float32 or bfloat16");
  mod.def("set_matmul_precision", &set_matmul_precision, py::arg("name"),
          "float32, or bfloat16: GEMM operands rounded to bfloat16, sums in float32");
  mod.def("amx_available", &amx_available,
          "Whether the CPU has AMX bfloat16 tiles and the OS lets this process use them");
  mod.def("bf16_matmul_engine", [] { return std::string(bf16_engine_name(bf16_engine())); },
          "How bfloat16 GEMMs run under the active ISA: amx, avx512_bf16 (VDPBF16PS), or "
          "emulated (float32 panels rounded to bfloat16: slower than float32)");
  mod.def("force_bf16_matmul_engine", &force_bf16_engine, py::arg("name"),
          "For tests: bfloat16 GEMMs on this engine (amx, avx512_bf16, emulated) whatever the "
          "ISA path, '' for the best; ValueError if this CPU lacks it");
  mod.def("num_threads", &num_threads, "Threads a kernel may use (OpenMP's max threads)");
  mod.def("set_num_threads", &set_num_threads, py::arg("n"),
          "Set the threads a kernel may use (n >= 1)");
  mod.def("flush_denormals", &flush_denormals,
          "Whether kernel threads flush denormal floats to zero (FTZ/DAZ)");
  mod.def("set_flush_denormals", &set_flush_denormals, py::arg("on"),
          "Switch denormal flushing in kernel threads on or off");
}

}  // namespace fastmlp::python
