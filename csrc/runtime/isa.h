// Which ISA path runs: the CPU's features, the FASTMLP_ISA override, and the kernel tables
// (GEMM microkernels, elementwise Ops) compiled for each path, chosen at run time.
#pragma once
#include <string>

#include "gemm/microkernel.h"
#include "kernels/ops/ops.h"

namespace fastmlp {

enum class Isa { generic = 0, avx2 = 1, avx512 = 2 };

const char* isa_name(Isa isa);
bool cpu_supports(Isa isa);

// Best ISA this CPU supports, lowered by FASTMLP_ISA=avx512|avx2|generic (never raised).
// The first call reads FASTMLP_ISA and throws std::invalid_argument naming the variable if
// its value is unknown (the module's init calls it, so the import fails with that message).
Isa active_isa();
// Force an ISA (for tests); throws std::invalid_argument if unknown or the CPU lacks it.
void set_isa(const std::string& name);
// The ISA a name stands for; throws std::invalid_argument naming the accepted values.
Isa parse_isa(const std::string& name);

// Whether this CPU has AMX bfloat16 tiles (with AVX512-BF16) and the OS lets this process
// use them (Linux grants the tile state on request, kernel 5.16 and newer).
bool amx_available();
// Whether bfloat16 GEMMs run on AMX tiles under the active ISA path.
bool bf16_gemm_on_amx();

// How bfloat16 GEMMs (matmul precision bfloat16) run under the active ISA path, best
// first: on AMX tiles, with AVX512-BF16's VDPBF16PS (avx512 path), or emulated - float32
// panels rounded to bfloat16 values, then the float32 microkernel (slower than float32).
enum class Bf16Engine { amx, avx512_bf16, emulated };
Bf16Engine bf16_engine();
const char* bf16_engine_name(Bf16Engine engine);  // "amx", "avx512_bf16", "emulated"
// For tests: run bfloat16 GEMMs on engine `name` whatever the ISA path ("" for the best);
// std::invalid_argument if unknown or this CPU lacks it. Not while a GEMM runs.
void force_bf16_engine(const std::string& name);

const GemmKernels& gemm_kernels_for(Isa isa);
const Ops& ops_for(Isa isa);
inline const Ops& active_ops() { return ops_for(active_isa()); }

// The GEMM kernels for the active ISA path and matmul precision: for bfloat16 those of
// bf16_engine() - AMX tiles, VDPBF16PS, or the path's float32 microkernels with their
// packed panels rounded to bfloat16 values (round_bf16, the emulated engine).
struct GemmPath {
  const GemmKernels& kernels;
  const Ops& ops;
  bool round_bf16;
};
GemmPath active_gemm_path();

}  // namespace fastmlp
