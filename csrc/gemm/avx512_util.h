// AVX-512 helpers shared by the translation units compiled with AVX-512 flags (the float32
// microkernel and the AMX bfloat16 one). Include only from such units: everything here is
// internal to the including unit, so no AVX-512 code leaks into a lower ISA path.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace fastmlp {
namespace {

// Lanes [0, n) of a 16-lane mask, for n in [0, 16] (clamped).
inline __mmask16 first_lanes(std::int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF)
                 : static_cast<__mmask16>((1u << (n < 0 ? 0 : n)) - 1u);
}

// 16x16 transpose in registers (4 rounds of 16 shuffles): out[j] lane i = in[i] lane j.
inline void transpose16(const __m512 in[16], __m512 out[16]) {
  __m512 t[16], u[16];
#pragma GCC unroll 8
  for (int k = 0; k < 8; ++k) {
    t[2 * k] = _mm512_unpacklo_ps(in[2 * k], in[2 * k + 1]);
    t[2 * k + 1] = _mm512_unpackhi_ps(in[2 * k], in[2 * k + 1]);
  }
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) {  // u[4k + j]: rows 4k..4k+3 of columns j, j+4, j+8, j+12
    u[4 * k] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
    u[4 * k + 1] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0xEE);
    u[4 * k + 2] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
    u[4 * k + 3] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xEE);
  }
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    const __m512 lo0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);   // rows 0-7: cols j, j+8
    const __m512 lo1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD);   // rows 0-7: cols j+4, j+12
    const __m512 hi0 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
    const __m512 hi1 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
    out[j] = _mm512_shuffle_f32x4(lo0, hi0, 0x88);
    out[j + 8] = _mm512_shuffle_f32x4(lo0, hi0, 0xDD);
    out[j + 4] = _mm512_shuffle_f32x4(lo1, hi1, 0x88);
    out[j + 12] = _mm512_shuffle_f32x4(lo1, hi1, 0xDD);
  }
}

// One vector of a finished tile: dst = alpha * acc + beta * dst in the lanes of m (dst not
// read when beta == 0); va, vb are alpha and beta broadcast. Shared by the float32 and AMX
// write-backs so both round alike.
inline void store_scaled(float* dst, __mmask16 m, __m512 acc, float alpha, float beta,
                         __m512 va, __m512 vb) {
  __m512 x = alpha == 1.0f ? acc : _mm512_mul_ps(va, acc);
  if (beta == 1.0f)
    x = _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst), x);
  else if (beta != 0.0f)
    x = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, dst), x);
  _mm512_mask_storeu_ps(dst, m, x);
}

// A finished R x (16 V) register tile into C (row stride ldc); the last vector of a row
// stores the lanes in `last`. alpha = 1, beta = 0 skips the per-vector tests.
template <int R, int V>
inline void store_tile(float* c, std::int64_t ldc, const __m512 (&acc)[R][V], __mmask16 last,
                       float alpha, float beta) {
  if (alpha == 1.0f && beta == 0.0f) {  // the common case, without a test per vector
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v)
        _mm512_mask_storeu_ps(c + r * ldc + 16 * v,
                              v == V - 1 ? last : static_cast<__mmask16>(0xFFFF), acc[r][v]);
    }
    return;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v)
      store_scaled(c + r * ldc + 16 * v, v == V - 1 ? last : static_cast<__mmask16>(0xFFFF),
                   acc[r][v], alpha, beta, va, vb);
  }
}

}  // namespace
}  // namespace fastmlp
