#include "gemm/epilogue.h"

namespace fastmlp {

void Epilogue::apply(std::int64_t row, std::int64_t col, std::int64_t rows,
                     std::int64_t cols) const {
  float* tile = c + row * ldc + col;
  switch (kind) {
    case Kind::bias_activation:
      ops->bias_activation(act, bias + col, tile, ldc, out + row * ldo + col, ldo, rows, cols);
      break;
    case Kind::activation_backward:
      ops->activation_backward(act, tile, ldc, ref + row * ldr + col, ldr, tile, ldc, rows, cols);
      break;
    case Kind::none:
      break;
  }
}

}  // namespace fastmlp
