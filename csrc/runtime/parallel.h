// How the kernels size and split their teams. Splits are only ever into disjoint output
// ranges (elements, rows, or whole columns), never a reduction across threads, so every
// result is bitwise identical for any thread count.
#pragma once
#include <cstdint>
#include <vector>

#include "runtime/isa.h"
#include "runtime/settings.h"
#include "runtime/team.h"

namespace fastmlp {

// Elementwise work below this many elements per thread is not worth another thread.
constexpr double kElementsPerThread = 1 << 15;
// Splits of elementwise work and of columns fall on 64-byte boundaries.
constexpr i64 kAlign = 16;

// Threads for `elements` of elementwise work, at most `limit`.
inline int elementwise_threads(double elements, int limit) {
  return threads_for(elements, kElementsPerThread, limit);
}

// body(ops, begin, end) on near-equal, aligned, non-empty parts of [0, count) split over a
// team sized for `elements` of work (denormals flushed in every thread).
template <class Body>
void split_over_team(i64 count, double elements, i64 align, Body&& body) {
  run_team(elementwise_threads(elements, num_threads()), [&](const Team& team) {
    const Range r = split(count, team.size, team.id, align);
    if (r.size() > 0) body(active_ops(), r.begin, r.end);
  });
}

// A per-calling-thread scratch of n doubles (per-row losses), reused across calls.
inline double* row_buffer(i64 n) {
  thread_local std::vector<double> buffer;
  if (static_cast<i64>(buffer.size()) < n) buffer.resize(static_cast<std::size_t>(n));
  return buffer.data();
}

// Sum of values[0..n) in index order on one thread: independent of the team size.
inline double ordered_sum(const double* values, i64 n) {
  double total = 0.0;
  for (i64 i = 0; i < n; ++i) total += values[i];
  return total;
}

// Mean of n per-row values, summed in row order.
inline double ordered_mean(const double* values, i64 n) {
  return ordered_sum(values, n) / static_cast<double>(n);
}

}  // namespace fastmlp
