// OpenMP teams for the kernels: how many threads a piece of work gets, how it is split,
// and the per-thread setup (denormal flushing) every computing thread needs.
//
// Work is only ever split into disjoint output ranges (never a reduction across threads),
// so every result is bitwise identical for any thread count.
#pragma once
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "runtime/openmp.h"
#include "runtime/settings.h"

namespace fastmlp {

using i64 = std::int64_t;

// A hint to the core that this thread is spin-waiting (x86 PAUSE, Arm YIELD).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  __asm__ __volatile__("yield");
#endif
}

// A barrier that spins briefly, then yields the core. OpenMP's own barrier spins far longer
// before sleeping; when the machine is busier than the team (another process on a core),
// a spinning thread keeps the one it waits for off the CPU and a step stalls for whole
// scheduler time slices. Yielding degrades to about one thread's speed instead.
class TeamBarrier {
 public:
  explicit TeamBarrier(int size) : size_(size) {}

  void wait() {
    const unsigned generation = generation_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) == size_ - 1) {
      arrived_.store(0, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
      return;
    }
    for (int spins = 0; generation_.load(std::memory_order_acquire) == generation; ++spins) {
      if (spins < kSpins)
        cpu_relax();
      else
        sched_yield();
    }
  }

 private:
  static constexpr int kSpins = 1 << 10;  // pauses before yielding: some 10-50 us
  const int size_;
  std::atomic<int> arrived_{0};
  std::atomic<unsigned> generation_{0};
};

// A thread's place in the team running a kernel. Stages of a multi-kernel call are
// separated with barrier(); a team of one never waits.
struct Team {
  int id = 0;
  int size = 1;
  TeamBarrier* sync = nullptr;  // shared by the team's threads
  // This thread's rank among `used` members counted from member `first` (wrapping), or -1:
  // small independent pieces of one stage can start on different threads.
  int rank(int used, int first = 0) const {
    const int r = ((id - first) % size + size) % size;
    return r < used ? r : -1;
  }
  void barrier() const {
    if (size > 1) sync->wait();
  }
};

struct Range {
  i64 begin, end;
  i64 size() const { return end - begin; }
};

// Part `idx` of `parts` near-equal chunks of [0, n), with boundaries on multiples of `align`.
inline Range split(i64 n, int parts, int idx, i64 align = 1) {
  const i64 units = (n + align - 1) / align;
  const i64 b = units * idx / parts * align, e = units * (idx + 1) / parts * align;
  return {std::min(b, n), std::min(e, n)};
}

// Threads worth using for `work` units when each thread should get at least `grain`.
inline int threads_for(double work, double grain, int limit) {
  const double useful = work / grain;
  return useful < 2.0 ? 1 : static_cast<int>(std::min<double>(limit, useful));
}

// Moves OpenMP worker `id` (>= 1) to another of the process's CPUs when it shares the
// caller's: when another process holds a core, the scheduler may stack the team on one
// core, where every spin-wait of OpenMP's fork and join costs a whole time slice
// (measured: 2 threads at 1/5 of one thread's speed). Costs one vDSO call otherwise.
void keep_off_cpu(int caller_cpu, int id);
// The CPU the calling thread runs on (and, on first use, notes the process's CPU set).
int caller_cpu_for_team();

// Runs body(team) on `threads` threads (inline when 1, or when built without OpenMP), each
// with denormals flushed.
template <class Body>
void run_team(int threads, Body&& body) {
  if (threads <= 1 || !kBuiltWithOpenMP) {
    DenormalGuard guard;
    body(Team{0, 1});
    return;
  }
  TeamBarrier sync(threads);
  const int caller_cpu = caller_cpu_for_team();
#pragma omp parallel num_threads(threads)
  {
    DenormalGuard guard;
    if (omp_get_thread_num() > 0) keep_off_cpu(caller_cpu, omp_get_thread_num());
    if (omp_get_num_threads() == threads) {
      body(Team{omp_get_thread_num(), threads, &sync});
    } else if (omp_get_thread_num() == 0) {  // the runtime gave fewer threads: run alone
      body(Team{0, 1, nullptr});
    }
  }
}

}  // namespace fastmlp
