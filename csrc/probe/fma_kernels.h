// Per-ISA FMA-throughput loops of the peak probe. Each lives in its own translation unit,
// compiled with only its ISA's flags, and is called only after a run-time CPU check.
#pragma once

#include <cstdint>

namespace fastmlp_probe {

// Runs `iters` rounds of independent FMA chains in registers, chain k starting at
// seed * (k + 1) with seed in (0, 1); returns a value that depends on every chain (so the
// compiler keeps the work). FLOPs done: iters * flops_per_iter.
float fma_loop_avx512(std::int64_t iters, float seed);
float fma_loop_avx2(std::int64_t iters, float seed);

constexpr std::int64_t kAvx512FlopsPerIter = 16 * 16 * 2;  // 16 chains x 16 lanes x (mul+add)
constexpr std::int64_t kAvx2FlopsPerIter = 12 * 8 * 2;     // 12 chains x 8 lanes x (mul+add)

}  // namespace fastmlp_probe
