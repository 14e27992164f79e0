// Rounding float32 to bfloat16 values, for GEMMs that emulate matmul precision "bfloat16"
// on CPUs (or forced ISA paths) without AMX tiles.
#pragma once
#include <cstdint>
#include <cstring>

namespace fastmlp {

// x rounded to the nearest bfloat16 (ties to even), as a float32 - exactly what
// VCVTNE2PS2BF16 does on the AMX path: NaN stays a quiet NaN, infinities stay, zeros and
// denormals become a zero of the same sign.
inline float round_to_bfloat16(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7F800000u) == 0)
    u &= 0x80000000u;
  else if ((u & 0x7FFFFFFFu) > 0x7F800000u)
    u = (u | 0x00400000u) & 0xFFFF0000u;
  else
    u = (u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

inline void round_to_bfloat16(float* values, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) values[i] = round_to_bfloat16(values[i]);
}

}  // namespace fastmlp
