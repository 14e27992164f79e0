// The process-wide settings every kernel reads: thread count, denormal flushing and the
// matmul precision (the Python layer's set_num_threads, set_flush_denormals and
// set_matmul_precision).
#pragma once
#include <cstdint>
#include <string>

namespace fastmlp {

// Matmul precision of every float32 GEMM: float32, or bfloat16 - both operands rounded
// to bfloat16 (to nearest even, NaN kept, denormals to zero), their exact products summed
// in float32, float32 output.
enum class MatmulPrecision { float32, bfloat16 };
MatmulPrecision matmul_precision();
const char* matmul_precision_name(MatmulPrecision precision);
// Throws std::invalid_argument naming the allowed values.
void set_matmul_precision(const std::string& name);

// Threads a kernel may use: OpenMP's max threads, or 1 when built without OpenMP.
int num_threads();
// n >= 1 (else std::invalid_argument); honoured as 1 when built without OpenMP.
void set_num_threads(int n);
// Whether the kernels were compiled with OpenMP (teams of more than one thread).
bool built_with_openmp();

// Denormals are flushed to zero (FTZ/DAZ) inside every kernel thread unless disabled:
// float32 training drifts into denormals (Adam moments) and they cost ~100x per op.
bool flush_denormals();
void set_flush_denormals(bool on);

// RAII guard that sets FTZ/DAZ in the calling thread for the lifetime of the guard.
struct DenormalGuard {
  std::uint64_t saved;  // the thread's floating-point control register
  bool active;
  DenormalGuard();
  ~DenormalGuard();
};

}  // namespace fastmlp
