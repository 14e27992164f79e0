// Work fused into the GEMM: applied to each finished tile of C while it is still in cache.
#pragma once
#include <cstdint>

#include "kernels/ops/activation.h"
#include "kernels/ops/ops.h"

namespace fastmlp {

struct Epilogue {
  enum class Kind {
    none,
    bias_activation,      // C += bias (per column), out = act(C); out may be C
    activation_backward,  // C *= act'(.) taken from ref (the layer output), in place
  };
  Kind kind = Kind::none;
  Activation act = Activation::identity;
  const float* bias = nullptr;
  float* out = nullptr;  // bias_activation: row-major, same shape as C
  std::int64_t ldo = 0;
  const float* ref = nullptr;  // activation_backward: row-major, same shape as C
  std::int64_t ldr = 0;

  // Set by the GEMM driver: C itself and the Ops of the ISA that computes it.
  float* c = nullptr;
  std::int64_t ldc = 0;
  const Ops* ops = nullptr;

  // Applies the epilogue to the rows x cols tile of C at (row, col).
  void apply(std::int64_t row, std::int64_t col, std::int64_t rows, std::int64_t cols) const;
};

}  // namespace fastmlp
