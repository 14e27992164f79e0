#include "runtime/team.h"

namespace fastmlp {

#if defined(__linux__)
namespace {

// The CPUs the process may use, as the first caller sees them (before any worker is pinned).
const cpu_set_t& process_cpus() {
  static const cpu_set_t cpus = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) CPU_ZERO(&set);
    return set;
  }();
  return cpus;
}

}  // namespace

int caller_cpu_for_team() {
  process_cpus();
  return sched_getcpu();
}

void keep_off_cpu(int caller_cpu, int id) {
  const cpu_set_t& all = process_cpus();
  if (caller_cpu < 0 || sched_getcpu() != caller_cpu) return;
  cpu_set_t others = all;
  CPU_CLR(caller_cpu, &others);
  const int count = CPU_COUNT(&others);
  if (count == 0) return;
  for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &others) || seen++ != (id - 1) % count) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    sched_setaffinity(0, sizeof(one), &one);  // best effort: failure leaves it where it is
    return;
  }
}

#else  // no per-thread CPU affinity to query or set: the scheduler places the team

int caller_cpu_for_team() { return -1; }
void keep_off_cpu(int, int) {}

#endif

}  // namespace fastmlp
