#include "gemm/blocking.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <mutex>
#include <numeric>
#include <string>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace fastmlp {
namespace {

using i64 = std::int64_t;

// Portable defaults, for caches nothing reports: a modest core's 32 KiB L1d, 256 KiB L2,
// and a 1 MiB share of an L3.
constexpr i64 kDefaultL1 = i64{32} << 10, kDefaultL2 = i64{256} << 10;
constexpr i64 kDefaultL3 = i64{1} << 20;
// Caps: beyond these a block gains nothing and only the pack buffers grow.
constexpr i64 kMaxKc = 512, kMaxMc = 1024, kMaxNc = 4096;
// kc is a multiple of this: whole cache lines of a packed row, whole AMX steps.
constexpr i64 kKcUnit = 32;

bool plausible(const CacheSizes& c) {
  return c.l1d >= (i64{4} << 10) && c.l1d <= (i64{4} << 20) && c.l2 >= c.l1d;
}

#if defined(__x86_64__) || defined(__i386__)
// Intel's leaf 4 and AMD's 0x8000001D describe one cache per subleaf, in the same format.
bool read_cache_leaf(unsigned leaf, CacheSizes& out) {
  for (unsigned i = 0; i < 16; ++i) {
    unsigned a, b, c, d;
    __cpuid_count(leaf, i, a, b, c, d);
    const unsigned type = a & 0x1Fu;  // 0: no more caches, 1: data, 2: instruction, 3: unified
    if (type == 0) break;
    if (type == 2) continue;
    const i64 ways = (b >> 22) + 1, partitions = ((b >> 12) & 0x3FFu) + 1, line = (b & 0xFFFu) + 1;
    const i64 size = ways * partitions * line * (i64{c} + 1);
    switch ((a >> 5) & 7u) {
      case 1: out.l1d = size; break;
      case 2: out.l2 = size; break;
      case 3:
        out.l3 = size;
        out.l3_sharing = static_cast<int>((a >> 14) & 0xFFFu) + 1;
        break;
    }
  }
  return plausible(out);
}

bool from_cpuid(CacheSizes& out) {
  unsigned max_leaf, b, c, d;
  if (!__get_cpuid(0, &max_leaf, &b, &c, &d)) return false;
  char vendor[13] = {};
  std::memcpy(vendor, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  if (!std::strcmp(vendor, "AuthenticAMD") || !std::strcmp(vendor, "HygonGenuine")) {
    unsigned a;
    if (__get_cpuid_max(0x80000000u, nullptr) < 0x8000001Du) return false;
    __cpuid(0x80000001u, a, b, c, d);
    return (c & (1u << 22)) && read_cache_leaf(0x8000001Du, out);  // topology extensions
  }
  return max_leaf >= 4 && read_cache_leaf(4, out);
}
#else
bool from_cpuid(CacheSizes&) { return false; }
#endif

// "48K", "1024K", "32M" -> bytes (0 if unreadable).
i64 parse_size(const std::string& text) {
  std::size_t used = 0;
  i64 value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (...) {
    return 0;
  }
  const char unit = used < text.size() ? text[used] : ' ';
  return unit == 'K' ? value << 10 : unit == 'M' ? value << 20 : unit == 'G' ? value << 30 : value;
}

// "0-1,4,6-7" -> 5
int count_cpus(const std::string& list) {
  int n = 0;
  std::size_t pos = 0;
  while (pos < list.size()) {
    const std::size_t end = std::min(list.find(',', pos), list.size());
    const std::string part = list.substr(pos, end - pos);
    const std::size_t dash = part.find('-');
    try {
      n += dash == std::string::npos ? 1 : std::stoi(part.substr(dash + 1)) - std::stoi(part) + 1;
    } catch (...) {
    }
    pos = end + 1;
  }
  return std::max(n, 1);
}

std::string read_line(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}

bool from_sysfs(CacheSizes& out) {
  for (int i = 0; i < 8; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    const std::string level = read_line(dir + "level"), type = read_line(dir + "type");
    if (level.empty()) break;
    if (type == "Instruction") continue;
    const i64 size = parse_size(read_line(dir + "size"));
    if (level == "1") out.l1d = size;
    if (level == "2") out.l2 = size;
    if (level == "3") {
      out.l3 = size;
      out.l3_sharing = count_cpus(read_line(dir + "shared_cpu_list"));
    }
  }
  return plausible(out);
}

CacheSizes detect() {
  CacheSizes c;
  if (from_cpuid(c)) {
    c.source = "cpuid";
    return c;
  }
  c = CacheSizes{};
  if (from_sysfs(c)) {
    c.source = "sysfs";
    return c;
  }
  return CacheSizes{kDefaultL1, kDefaultL2, kDefaultL3, 1, "defaults"};
}

std::mutex g_override_mutex;
bool g_overridden = false;
CacheSizes g_override;

i64 round_down(i64 x, i64 unit) { return x / unit * unit; }

}  // namespace

CacheSizes cache_sizes() {
  static const CacheSizes detected = detect();
  std::lock_guard<std::mutex> lock(g_override_mutex);
  return g_overridden ? g_override : detected;
}

void set_cache_sizes_override(i64 l1d, i64 l2, i64 l3) {
  std::lock_guard<std::mutex> lock(g_override_mutex);
  g_overridden = l1d > 0 || l2 > 0 || l3 > 0;
  g_override = CacheSizes{l1d, l2, l3, 1, "override"};  // unknown (zero) sizes: defaults
}

GemmBlocking derive_blocking(const CacheSizes& caches, int mr, int nr, int elem_bytes,
                             int k_align, i64 slice_depth) {
  const i64 l1 = caches.l1d > 0 ? caches.l1d : kDefaultL1;
  const i64 l2 = caches.l2 > 0 ? caches.l2 : kDefaultL2;
  const i64 unit = std::lcm<i64>(kKcUnit, std::max(k_align, 1));
  const i64 elem = std::max(elem_bytes, 1);
  GemmBlocking b;
  b.kc = std::clamp(round_down(l1 / 2 / (mr * elem), unit), unit, std::max(unit, kMaxKc));
  const i64 depth = slice_depth > 0 ? std::min(slice_depth, b.kc) : b.kc;
  b.nc = std::clamp(round_down(l2 / 2 / (depth * elem), nr), i64{nr}, round_down(kMaxNc, nr));
  b.mc = std::clamp(round_down(l2 / 4 / (depth * elem), mr), i64{mr}, round_down(kMaxMc, mr));
  b.in_place_b_bytes = l1 * 2 / 3;
  b.macs_per_thread = static_cast<double>(std::clamp<i64>(l2 / 4, i64{1} << 16, i64{1} << 24));
  return b;
}

}  // namespace fastmlp
