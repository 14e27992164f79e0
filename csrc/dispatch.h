// Run-time CPU feature detection and thread/denormal control shared by all kernels.
#pragma once
#include <string>

namespace fastmlp {

enum class Isa { generic = 0, avx2 = 1, avx512 = 2 };

// Best ISA this CPU supports, lowered by FASTMLP_ISA=avx512|avx2|generic (never raised).
Isa active_isa();
const char* isa_name(Isa isa);
// Force an ISA (for tests); throws std::invalid_argument if the CPU lacks it.
void set_isa(const std::string& name);
bool cpu_supports(Isa isa);

// Matmul precision of every float32 GEMM (the Python layer's set_matmul_precision):
// float32, or bfloat16 - both operands rounded to bfloat16 (to nearest even, NaN kept,
// denormals to zero), their exact products summed in float32, float32 output.
enum class MatmulPrecision { float32, bfloat16 };
MatmulPrecision matmul_precision();
const char* matmul_precision_name(MatmulPrecision precision);
// Throws std::invalid_argument naming the allowed values.
void set_matmul_precision(const std::string& name);

// Whether this CPU has AMX bfloat16 tiles (with AVX512-BF16) and the OS lets this process
// use them (Linux grants the tile state on request, kernel 5.16 and newer).
bool amx_available();
// Whether bfloat16 GEMMs run on AMX tiles under the active ISA path; otherwise they are
// emulated (float32 panels rounded to bfloat16 values, then the float32 microkernel).
bool bf16_gemm_on_amx();

int num_threads();
void set_num_threads(int n);

// Denormals are flushed to zero (FTZ/DAZ) inside every kernel thread unless disabled:
// float32 training drifts into denormals (Adam moments) and they cost ~100x per op.
bool flush_denormals();
void set_flush_denormals(bool on);

// RAII guard that sets FTZ/DAZ in the calling thread for the lifetime of the guard.
struct DenormalGuard {
  unsigned int saved;
  bool active;
  DenormalGuard();
  ~DenormalGuard();
};

}  // namespace fastmlp
