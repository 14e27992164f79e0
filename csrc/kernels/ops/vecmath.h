// exp, sigmoid and tanh in branch-free float32 code that compilers vectorize, for the
// per-ISA translation units. Everything here has internal linkage (anonymous namespace):
// each ISA's copy is compiled with its own flags and must never be merged with another's.
//
// Accuracy: exp is the Cephes expf scheme (Cody-Waite reduction, degree-6 polynomial),
// within 2 ulp of the exact value; tanh is Cephes tanhf (odd polynomial below 0.625,
// 1 - 2/(exp(2|x|) + 1) above), within a few ulp. Both propagate NaN and saturate.
#pragma once
#include <cstdint>

namespace fastmlp {
namespace {

inline float bits_to_float(std::int32_t i) { return __builtin_bit_cast(float, i); }

inline float exp_f32(float x) {
  // Beyond these, exp(x) is 0 after rounding or +inf; clamping keeps 2^n representable.
  // NaN goes through as 0 (its result is x itself, below): no float-to-int conversion or
  // shift of an out-of-range value.
  float xc = x == x ? x : 0.0f;
  xc = xc < -104.0f ? -104.0f : xc;
  xc = xc > 89.0f ? 89.0f : xc;
  // n = round(x / ln 2) via the 1.5 * 2^23 trick (no floor call: vectorizes on SSE2).
  const float shifter = 12582912.0f;
  const float fn = (xc * 1.44269504088896341f + shifter) - shifter;
  float r = xc - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * (r * r) + r + 1.0f;
  // 2^n as two normal factors so n in [-150, 129] needs no special case; the product
  // overflows or underflows exactly like exp itself.
  const std::int32_t n = static_cast<std::int32_t>(fn);
  const std::int32_t n1 = n >> 1, n2 = n - n1;
  const float s1 = bits_to_float((n1 + 127) << 23), s2 = bits_to_float((n2 + 127) << 23);
  const float result = y * s1 * s2;
  return x != x ? x : result;
}

// 1 / (1 + exp(-x)), as the NumPy oracle computes it: exp of a non-positive number only.
inline float sigmoid_f32(float x) {
  const float e = exp_f32(-__builtin_fabsf(x));
  return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

inline float tanh_f32(float x) {
  const float ax = __builtin_fabsf(x);
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = p * z * ax + ax;
  const float big = 1.0f - 2.0f / (exp_f32(2.0f * ax) + 1.0f);
  const float r = ax < 0.625f ? small : big;
  return __builtin_copysignf(r, x);
}

// log(x) for positive normal x: Cephes logf (mantissa reduced to [sqrt(1/2), sqrt(2)),
// degree-8 polynomial, ln 2 split in two), within 2 ulp.
inline float log_f32(float x) {
  const std::int32_t bits = __builtin_bit_cast(std::int32_t, x);
  const std::int32_t e0 = ((bits >> 23) & 0xff) - 126;
  const float f = bits_to_float((bits & 0x007fffff) | 0x3f000000);  // in [0.5, 1)
  const bool low = f < 0.707106781186547524f;
  const float fe = static_cast<float>(low ? e0 - 1 : e0);
  const float m = low ? (f + f) - 1.0f : f - 1.0f;
  const float z = m * m;
  float y = 7.0376836292e-2f;
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  y = y + fe * -2.12194440e-4f;
  y = y - 0.5f * z;
  return (m + y) + fe * 0.693359375f;
}

// log(1 + t) for t in [0, 1], accurate for tiny t: log(u) * t / (u - 1) with u = 1 + t
// (the rounding of u cancels), t itself when u rounds to 1.
inline float log1p_f32(float t) {
  const float u = 1.0f + t;
  const float d = u - 1.0f;
  return d == 0.0f ? t : log_f32(u) * (t / d);
}

}  // namespace
}  // namespace fastmlp
