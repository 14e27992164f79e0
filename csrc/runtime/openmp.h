// OpenMP when the compiler has it; otherwise the few OpenMP calls the kernels make,
// answering for a team of one, so the same sources build and run on one thread (Apple's
// clang has no OpenMP runtime). Without OpenMP the `#pragma omp parallel` regions are
// ignored by the compiler and their bodies run once, on the calling thread.
#pragma once

#if defined(_OPENMP)
#include <omp.h>
#else
#include <chrono>

inline int omp_get_thread_num() { return 0; }
inline int omp_get_num_threads() { return 1; }
inline int omp_get_max_threads() { return 1; }
inline void omp_set_num_threads(int) {}
inline double omp_get_wtime() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}
#endif

namespace fastmlp {
// Whether this build runs teams of more than one thread (built with OpenMP).
#if defined(_OPENMP)
constexpr bool kBuiltWithOpenMP = true;
#else
constexpr bool kBuiltWithOpenMP = false;
#endif
}  // namespace fastmlp
