#include "runtime/settings.h"

#include <omp.h>
#include <xmmintrin.h>

#include <stdexcept>
#include <string>

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
