// fastmlp._probe: measures this CPU's limits, so benchmarks can report a kernel's speed
// as a fraction of what the machine can do. Two probes:
//   fma_gflops      - peak float32 FMA throughput of one ISA on n threads (OpenMP);
//   triad_gbps      - bandwidth of a STREAM-style triad over a given working-set size.
// Both report the best of several timed runs: a peak is the fastest the machine went.
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "probe/fma_kernels.h"
#include "runtime/openmp.h"

namespace py = pybind11;
using fastmlp_probe::fma_loop_avx2;
using fastmlp_probe::fma_loop_avx512;

namespace {

bool supports(const std::string& isa) {
  __builtin_cpu_init();
  if (isa == "avx512") return __builtin_cpu_supports("avx512f");
  if (isa == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  throw std::invalid_argument("unknown ISA '" + isa + "'; expected avx512 or avx2");
}

void check_threads(int threads) {
  if (threads < 1) throw std::invalid_argument("threads must be >= 1");
}

// Wall time of `*threads` threads each running the ISA's loop for `iters` rounds; *threads
// becomes the count that ran (1 when built without OpenMP).
double time_fma(bool avx512, int* threads, std::int64_t iters, float* sink) {
  const float seed = 0.25f;
  double start = 0.0, stop = 0.0;
  float total = 0.0f;
  int ran = 1;
#pragma omp parallel num_threads(*threads) reduction(+ : total)
  {
#pragma omp barrier
#pragma omp single
    {
      ran = omp_get_num_threads();
      start = omp_get_wtime();
    }
    total += avx512 ? fma_loop_avx512(iters, seed) : fma_loop_avx2(iters, seed);
#pragma omp barrier
#pragma omp single
    stop = omp_get_wtime();
  }
  *sink += total;
  *threads = ran;
  return stop - start;
}

double fma_gflops(const std::string& isa, int threads, double seconds, int runs) {
  check_threads(threads);
  if (!supports(isa)) throw std::invalid_argument("this CPU does not support " + isa);
  const bool avx512 = isa == "avx512";
  const double flops_per_iter = static_cast<double>(
      avx512 ? fastmlp_probe::kAvx512FlopsPerIter : fastmlp_probe::kAvx2FlopsPerIter);
  py::gil_scoped_release release;
  float sink = 0.0f;
  // Calibrate: grow the count until one run lasts long enough to time (and the
  // cores have left any low-power state), then size each run to `seconds`.
  std::int64_t iters = 1 << 14;
  double t = time_fma(avx512, &threads, iters, &sink);
  while (t < 0.02) {
    iters *= 4;
    t = time_fma(avx512, &threads, iters, &sink);
  }
  iters = std::max<std::int64_t>(1, static_cast<std::int64_t>(iters * seconds / t));
  double best = 0.0;
  for (int r = 0; r < std::max(runs, 1); ++r) {
    t = time_fma(avx512, &threads, iters, &sink);
    best = std::max(best, flops_per_iter * iters * threads / t);
  }
  if (sink == 12345.0f) best += 0.0;  // uses the result, so no loop is optimized away
  return best / 1e9;
}

// One triad pass a = b + s * c over [begin, end). Cloned per ISA and chosen at load time
// by the compiler's function multiversioning: wide loads matter for cache-resident sizes.
__attribute__((target_clones("avx512f", "avx2", "default")))
void triad(float* __restrict a, const float* __restrict b, const float* __restrict c,
           float s, std::int64_t begin, std::int64_t end) {
  for (std::int64_t i = begin; i < end; ++i) a[i] = b[i] + s * c[i];
}

double triad_gbps(std::int64_t nbytes, int threads, double seconds, int runs) {
  check_threads(threads);
  const std::int64_t n = std::max<std::int64_t>(nbytes / (3 * sizeof(float)), 16 * threads);
  std::vector<float> a(n, 0.0f), b(n, 1.0f), c(n, 2.0f);
  py::gil_scoped_release release;
  // Calibrate on one thread, outside any parallel region, so that a thread descheduled at
  // a barrier cannot shrink the count; each of the `threads` threads then does 1/threads
  // of every pass, for about `seconds` per run.
  std::int64_t reps = 1;
  double t = 0.0;
  for (;; reps *= 2) {
    const double start = omp_get_wtime();
    for (std::int64_t k = 0; k < reps; ++k) triad(a.data(), b.data(), c.data(), 0.5f, 0, n);
    t = omp_get_wtime() - start;
    if (t > 1e-3) break;
  }
  reps = std::max<std::int64_t>(1, static_cast<std::int64_t>(reps * seconds / t) * threads);
  double best = 0.0, start = 0.0;
#pragma omp parallel num_threads(threads)
  {
    const int tid = omp_get_thread_num(), nt = omp_get_num_threads();
    const std::int64_t begin = n * tid / nt, end = n * (tid + 1) / nt;
    for (int r = 0; r < std::max(runs, 1); ++r) {
#pragma omp barrier
#pragma omp single
      start = omp_get_wtime();
      for (std::int64_t k = 0; k < reps; ++k) triad(a.data(), b.data(), c.data(), 0.5f, begin, end);
#pragma omp barrier
#pragma omp single
      best = std::max(best, 3.0 * sizeof(float) * n * reps / (omp_get_wtime() - start));
    }
  }
  return best / 1e9;
}

}  // namespace

PYBIND11_MODULE(_probe, m) {
  m.doc() = "Native probes of this CPU's peak FMA throughput and memory bandwidth.";
  m.def("cpu_supports", &supports, py::arg("isa"),
        "Whether this CPU runs the probe's 'avx512' or 'avx2' FMA loop.");
  m.def("fma_gflops", &fma_gflops, py::arg("isa"), py::arg("threads") = 1,
        py::arg("seconds") = 0.05, py::arg("runs") = 3,
        "Peak float32 GFLOP/s of independent FMA chains on `threads` OpenMP threads "
        "(best of `runs` runs of about `seconds` each).");
  m.def("triad_gbps", &triad_gbps, py::arg("nbytes"), py::arg("threads") = 1,
        py::arg("seconds") = 0.01, py::arg("runs") = 3,
        "GB/s of a triad a = b + s*c whose three arrays total `nbytes` "
        "(2 reads + 1 write per element; best of `runs`).");
  m.def("max_threads", &omp_get_max_threads, "OpenMP's default thread count (1 when built without OpenMP).");
}
