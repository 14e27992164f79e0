#include "runtime/settings.h"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "runtime/openmp.h"

namespace fastmlp {
namespace {

bool g_flush = true;
MatmulPrecision g_precision = MatmulPrecision::float32;

}  // namespace

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

int num_threads() { return omp_get_max_threads(); }

bool built_with_openmp() { return kBuiltWithOpenMP; }

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("number of threads must be >= 1, got " + std::to_string(n));
  omp_set_num_threads(n);  // without OpenMP a no-op: kernels run on one thread
}

bool flush_denormals() { return g_flush; }
void set_flush_denormals(bool on) { g_flush = on; }

namespace {

// The floating-point control register and its flush-to-zero bits: x86's MXCSR with FTZ
// (bit 15) and DAZ (bit 6); Arm's FPCR with FZ (bit 24), which flushes denormal inputs and
// results of float32 operations. Elsewhere nothing is flushed.
#if defined(__x86_64__) || defined(__i386__)
constexpr std::uint64_t kFlushBits = 0x8040u;
std::uint64_t read_fp_control() { return __builtin_ia32_stmxcsr(); }
void write_fp_control(std::uint64_t v) { __builtin_ia32_ldmxcsr(static_cast<unsigned>(v)); }
#elif defined(__aarch64__)
constexpr std::uint64_t kFlushBits = 1u << 24;
std::uint64_t read_fp_control() {
  std::uint64_t v;
  __asm__ __volatile__("mrs %0, fpcr" : "=r"(v));
  return v;
}
void write_fp_control(std::uint64_t v) { __asm__ __volatile__("msr fpcr, %0" : : "r"(v)); }
#else
constexpr std::uint64_t kFlushBits = 0;
std::uint64_t read_fp_control() { return 0; }
void write_fp_control(std::uint64_t) {}
#endif

}  // namespace

DenormalGuard::DenormalGuard() : saved(read_fp_control()), active(g_flush) {
  if (active) write_fp_control(saved | kFlushBits);
}
DenormalGuard::~DenormalGuard() {
  if (active) write_fp_control(saved);
}

}  // namespace fastmlp
