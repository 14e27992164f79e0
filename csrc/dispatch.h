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
