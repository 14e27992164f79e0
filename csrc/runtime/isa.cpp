#include "runtime/isa.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "runtime/settings.h"

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

// The best ISA, lowered by FASTMLP_ISA. Read on first use, never in a static initializer:
// an exception there would abort the interpreter instead of failing the import.
Isa initial_isa() {
  const Isa best = detect_best();
  const char* env = std::getenv("FASTMLP_ISA");
  if (!env || !*env) return best;
  Isa want;
  try {
    want = parse_isa(env);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("FASTMLP_ISA: ") + e.what());
  }
  return static_cast<int>(want) < static_cast<int>(best) ? want : best;
}

Isa& isa_setting() {
  static Isa isa = initial_isa();  // a throw leaves it unset: the next call throws again
  return isa;
}

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

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "generic";
  }
}

bool cpu_supports(Isa isa) { return static_cast<int>(isa) <= static_cast<int>(detect_best()); }

Isa parse_isa(const std::string& name) {
  if (name == "avx512") return Isa::avx512;
  if (name == "avx2") return Isa::avx2;
  if (name == "generic") return Isa::generic;
  throw std::invalid_argument("unknown ISA '" + name + "'; expected one of avx512, avx2, generic");
}

Isa active_isa() { return isa_setting(); }

void set_isa(const std::string& name) {
  const Isa want = parse_isa(name);
  if (!cpu_supports(want))
    throw std::invalid_argument("this CPU does not support ISA '" + name + "'");
  isa_setting() = want;
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

bool bf16_gemm_on_amx() { return active_isa() == Isa::avx512 && amx_available(); }

namespace {

bool cpu_has_avx512_bf16() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") != 0;
  }();
  return has;
}

bool g_engine_forced = false;
Bf16Engine g_forced_engine = Bf16Engine::emulated;

}  // namespace

Bf16Engine bf16_engine() {
  if (g_engine_forced) return g_forced_engine;
  if (bf16_gemm_on_amx()) return Bf16Engine::amx;
  if (active_isa() == Isa::avx512 && cpu_has_avx512_bf16()) return Bf16Engine::avx512_bf16;
  return Bf16Engine::emulated;
}

void force_bf16_engine(const std::string& name) {
  if (name.empty()) {
    g_engine_forced = false;
    return;
  }
  Bf16Engine want;
  if (name == "amx" && amx_available())
    want = Bf16Engine::amx;
  else if (name == "avx512_bf16" && cpu_supports(Isa::avx512) && cpu_has_avx512_bf16())
    want = Bf16Engine::avx512_bf16;
  else if (name == "emulated")
    want = Bf16Engine::emulated;
  else
    throw std::invalid_argument("bfloat16 engine '" + name +
                                "' is unknown or not on this CPU; expected one of amx, "
                                "avx512_bf16, emulated (or '' for the best)");
  g_forced_engine = want;
  g_engine_forced = true;
}

const char* bf16_engine_name(Bf16Engine engine) {
  switch (engine) {
    case Bf16Engine::amx: return "amx";
    case Bf16Engine::avx512_bf16: return "avx512_bf16";
    default: return "emulated";
  }
}

const GemmKernels& gemm_kernels_for(Isa isa) {
  switch (isa) {
    case Isa::avx512: return gemm_kernels_avx512();
    case Isa::avx2: return gemm_kernels_avx2();
    default: return gemm_kernels_generic();
  }
}

const Ops& ops_for(Isa isa) {
  switch (isa) {
    case Isa::avx512: return ops_avx512();
    case Isa::avx2: return ops_avx2();
    default: return ops_generic();
  }
}

GemmPath active_gemm_path() {
  const Isa isa = active_isa();
  if (matmul_precision() == MatmulPrecision::bfloat16) {
    switch (bf16_engine()) {
      case Bf16Engine::amx: return {gemm_kernels_amx(), ops_for(isa), false};
      case Bf16Engine::avx512_bf16: return {gemm_kernels_avx512_bf16(), ops_for(isa), false};
      case Bf16Engine::emulated: return {gemm_kernels_for(isa), ops_for(isa), true};
    }
  }
  return {gemm_kernels_for(isa), ops_for(isa), false};
}

}  // namespace fastmlp
