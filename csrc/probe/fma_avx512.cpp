// AVX-512 FMA loop: 16 independent accumulators hide the 4-cycle FMA latency on two FMA
// ports (needs >= 8 in flight) and fit in the 32 zmm registers with the two constants.
#include <immintrin.h>

#include "fma_kernels.h"

namespace fastmlp_probe {

float fma_loop_avx512(std::int64_t iters, float seed) {
  // acc = acc * mul + add converges to add / (1 - mul) = 1: no overflow, no denormals
  const __m512 mul = _mm512_set1_ps(0.999999f);
  const __m512 add = _mm512_set1_ps(1e-6f);
  // distinct, run-time starting values: chains the compiler cannot prove equal and merge
  __m512 a0 = _mm512_set1_ps(seed * 1.0f);
  __m512 a1 = _mm512_set1_ps(seed * 2.0f);
  __m512 a2 = _mm512_set1_ps(seed * 3.0f);
  __m512 a3 = _mm512_set1_ps(seed * 4.0f);
  __m512 a4 = _mm512_set1_ps(seed * 5.0f);
  __m512 a5 = _mm512_set1_ps(seed * 6.0f);
  __m512 a6 = _mm512_set1_ps(seed * 7.0f);
  __m512 a7 = _mm512_set1_ps(seed * 8.0f);
  __m512 a8 = _mm512_set1_ps(seed * 9.0f);
  __m512 a9 = _mm512_set1_ps(seed * 10.0f);
  __m512 a10 = _mm512_set1_ps(seed * 11.0f);
  __m512 a11 = _mm512_set1_ps(seed * 12.0f);
  __m512 a12 = _mm512_set1_ps(seed * 13.0f);
  __m512 a13 = _mm512_set1_ps(seed * 14.0f);
  __m512 a14 = _mm512_set1_ps(seed * 15.0f);
  __m512 a15 = _mm512_set1_ps(seed * 16.0f);
  for (std::int64_t i = 0; i < iters; ++i) {
    a0 = _mm512_fmadd_ps(a0, mul, add);   a1 = _mm512_fmadd_ps(a1, mul, add);
    a2 = _mm512_fmadd_ps(a2, mul, add);   a3 = _mm512_fmadd_ps(a3, mul, add);
    a4 = _mm512_fmadd_ps(a4, mul, add);   a5 = _mm512_fmadd_ps(a5, mul, add);
    a6 = _mm512_fmadd_ps(a6, mul, add);   a7 = _mm512_fmadd_ps(a7, mul, add);
    a8 = _mm512_fmadd_ps(a8, mul, add);   a9 = _mm512_fmadd_ps(a9, mul, add);
    a10 = _mm512_fmadd_ps(a10, mul, add); a11 = _mm512_fmadd_ps(a11, mul, add);
    a12 = _mm512_fmadd_ps(a12, mul, add); a13 = _mm512_fmadd_ps(a13, mul, add);
    a14 = _mm512_fmadd_ps(a14, mul, add); a15 = _mm512_fmadd_ps(a15, mul, add);
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                           _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  __m512 t = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)),
                           _mm512_add_ps(_mm512_add_ps(a12, a13), _mm512_add_ps(a14, a15)));
  return _mm512_reduce_add_ps(_mm512_add_ps(s, t));
}

}  // namespace fastmlp_probe
