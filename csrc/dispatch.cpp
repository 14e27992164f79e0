#include "dispatch.h"

#include <omp.h>
#include <xmmintrin.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace fastmlp {
namespace {

Isa detect_best() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
    return Isa::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
  return Isa::generic;
}

Isa parse(const std::string& name) {
  if (name == "avx512") return Isa::avx512;
  if (name == "avx2") return Isa::avx2;
  if (name == "generic") return Isa::generic;
  throw std::invalid_argument("unknown ISA '" + name + "'; expected one of avx512, avx2, generic");
}

Isa initial_isa() {
  Isa best = detect_best();
  const char* env = std::getenv("FASTMLP_ISA");
  if (env && *env) {
    Isa want = parse(env);  // a bad FASTMLP_ISA surfaces as ImportError with this message
    if (static_cast<int>(want) < static_cast<int>(best)) return want;
  }
  return best;
}

Isa g_isa = initial_isa();
bool g_flush = true;
MatmulPrecision g_precision = MatmulPrecision::float32;

bool request_amx_tiles() {
#if defined(__linux__) && defined(SYS_arch_prctl)
  constexpr int kReqXcompPerm = 0x1023;  // ARCH_REQ_XCOMP_PERM
  constexpr int kXtileData = 18;         // XFEATURE_XTILEDATA
  return syscall(SYS_arch_prctl, kReqXcompPerm, kXtileData) == 0;
#else
  return false;
#endif
}

}  // namespace

Isa active_isa() { return g_isa; }

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "generic";
  }
}

bool cpu_supports(Isa isa) { return static_cast<int>(isa) <= static_cast<int>(detect_best()); }

void set_isa(const std::string& name) {
  Isa want = parse(name);
  if (!cpu_supports(want))
    throw std::invalid_argument("this CPU does not support ISA '" + name + "'");
  g_isa = want;
}

MatmulPrecision matmul_precision() { return g_precision; }

const char* matmul_precision_name(MatmulPrecision precision) {
  return precision == MatmulPrecision::bfloat16 ? "bfloat16" : "float32";
}

void set_matmul_precision(const std::string& name) {
  if (name == "float32")
    g_precision = MatmulPrecision::float32;
  else if (name == "bfloat16")
    g_precision = MatmulPrecision::bfloat16;
  else
    throw std::invalid_argument("unknown matmul precision '" + name +
                                "'; expected one of float32, bfloat16");
}

bool amx_available() {
  static const bool available = [] {
    __builtin_cpu_init();
    // Asked for only once the CPU has the tiles: without the OS's permission the first
    // tile instruction would kill the process.
    return cpu_supports(Isa::avx512) && __builtin_cpu_supports("avx512bf16") &&
           __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-bf16") &&
           request_amx_tiles();
  }();
  return available;
}

bool bf16_gemm_on_amx() { return g_isa == Isa::avx512 && amx_available(); }

int num_threads() { return omp_get_max_threads(); }

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("number of threads must be >= 1, got " + std::to_string(n));
  omp_set_num_threads(n);
}

bool flush_denormals() { return g_flush; }
void set_flush_denormals(bool on) { g_flush = on; }

// MXCSR bits: FTZ (bit 15) and DAZ (bit 6).
DenormalGuard::DenormalGuard() : saved(_mm_getcsr()), active(g_flush) {
  if (active) _mm_setcsr(saved | 0x8040u);
}
DenormalGuard::~DenormalGuard() {
  if (active) _mm_setcsr(saved);
}

}  // namespace fastmlp
