// AVX2 FMA loop: 12 independent accumulators (>= 8 needed for 2 ports x 4-cycle latency),
// leaving room for the two constants in the 16 ymm registers.
#include <immintrin.h>

#include "fma_kernels.h"

namespace fastmlp_probe {

float fma_loop_avx2(std::int64_t iters, float seed) {
  // acc = acc * mul + add converges to add / (1 - mul) = 1: no overflow, no denormals
  const __m256 mul = _mm256_set1_ps(0.999999f);
  const __m256 add = _mm256_set1_ps(1e-6f);
  // distinct, run-time starting values: chains the compiler cannot prove equal and merge
  __m256 a0 = _mm256_set1_ps(seed * 1.0f);
  __m256 a1 = _mm256_set1_ps(seed * 2.0f);
  __m256 a2 = _mm256_set1_ps(seed * 3.0f);
  __m256 a3 = _mm256_set1_ps(seed * 4.0f);
  __m256 a4 = _mm256_set1_ps(seed * 5.0f);
  __m256 a5 = _mm256_set1_ps(seed * 6.0f);
  __m256 a6 = _mm256_set1_ps(seed * 7.0f);
  __m256 a7 = _mm256_set1_ps(seed * 8.0f);
  __m256 a8 = _mm256_set1_ps(seed * 9.0f);
  __m256 a9 = _mm256_set1_ps(seed * 10.0f);
  __m256 a10 = _mm256_set1_ps(seed * 11.0f);
  __m256 a11 = _mm256_set1_ps(seed * 12.0f);
  for (std::int64_t i = 0; i < iters; ++i) {
    a0 = _mm256_fmadd_ps(a0, mul, add);   a1 = _mm256_fmadd_ps(a1, mul, add);
    a2 = _mm256_fmadd_ps(a2, mul, add);   a3 = _mm256_fmadd_ps(a3, mul, add);
    a4 = _mm256_fmadd_ps(a4, mul, add);   a5 = _mm256_fmadd_ps(a5, mul, add);
    a6 = _mm256_fmadd_ps(a6, mul, add);   a7 = _mm256_fmadd_ps(a7, mul, add);
    a8 = _mm256_fmadd_ps(a8, mul, add);   a9 = _mm256_fmadd_ps(a9, mul, add);
    a10 = _mm256_fmadd_ps(a10, mul, add); a11 = _mm256_fmadd_ps(a11, mul, add);
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                           _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  float lanes[8];
  _mm256_storeu_ps(lanes, s);
  float r = 0.0f;
  for (float x : lanes) r += x;
  return r;
}

}  // namespace fastmlp_probe
