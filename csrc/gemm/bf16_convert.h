// float32 -> bfloat16 conversion for packing, shared by the translation units compiled with
// AVX512-BF16 flags (the AMX and the VDPBF16PS microkernels). Include only from such units.
// VCVTNE2PS2BF16 rounds to nearest even, keeps NaNs (quiet) and turns denormals into zeros
// of their sign: the float32 emulation path's round_to_bfloat16 (gemm/bfloat16.h).
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "gemm/avx512_util.h"

namespace fastmlp {
namespace {

inline __m512i as_int(__m512bh x) { return reinterpret_cast<__m512i>(x); }

// 32 consecutive floats (the first n valid, the rest read as 0) as 32 bf16, in order.
inline __m512i row_to_bf16(const float* src, std::int64_t n) {
  const __m512 lo = _mm512_maskz_loadu_ps(first_lanes(n), src);
  const __m512 hi = _mm512_maskz_loadu_ps(first_lanes(n - 16), src + 16);
  return as_int(_mm512_cvtne2ps_pbh(hi, lo));
}

// Two rows of 16 floats (lanes `valid`; a null row reads as 0) interleaved as bf16 pairs:
// dword j = bf16(r0[j]) | bf16(r1[j]) << 16.
inline __m512i pair_rows(const float* r0, const float* r1, __mmask16 valid) {
  const __m512 x0 = r0 ? _mm512_maskz_loadu_ps(valid, r0) : _mm512_setzero_ps();
  const __m512 x1 = r1 ? _mm512_maskz_loadu_ps(valid, r1) : _mm512_setzero_ps();
  // words 0-15 are bf16(x0), words 16-31 bf16(x1); interleave them word by word
  const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10,
                                              25, 9, 24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3,
                                              18, 2, 17, 1, 16, 0);
  return _mm512_permutexvar_epi16(interleave, as_int(_mm512_cvtne2ps_pbh(x1, x0)));
}

}  // namespace
}  // namespace fastmlp
