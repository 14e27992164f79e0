// A grow-only, 64-byte-aligned scratch buffer. The GEMM keeps one per thread for each
// packed operand, so packing allocates only the first time a thread sees a larger block
// (block sizes are capped by the cache blocking, never by the problem size).
#pragma once
#include <cstddef>
#include <cstdlib>
#include <new>

namespace fastmlp {

class PackBuffer {
 public:
  PackBuffer() = default;
  PackBuffer(const PackBuffer&) = delete;
  PackBuffer& operator=(const PackBuffer&) = delete;
  ~PackBuffer() { std::free(data_); }

  float* get(std::size_t floats) {
    if (floats > capacity_) {
      std::free(data_);
      const std::size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
      data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      capacity_ = data_ ? floats : 0;
      if (!data_) throw std::bad_alloc();
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  std::size_t capacity_ = 0;
};

}  // namespace fastmlp
