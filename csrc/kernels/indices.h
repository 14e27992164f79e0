// Indices the kernels read from caller memory (labels, minibatch order). The bindings
// range-check them while holding the GIL, but another Python thread may rewrite them once
// it is released: each is read once, checked at the point of use, and a value out of range
// is reported (std::invalid_argument, ValueError in Python) instead of indexing memory.
#pragma once
#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace fastmlp {

// One read of *p that the compiler may not repeat: the value checked is the value used.
inline std::int64_t read_index(const std::int64_t* p) {
  return __atomic_load_n(p, __ATOMIC_RELAXED);
}

inline bool index_in_range(std::int64_t i, std::int64_t size) { return i >= 0 && i < size; }

// Set by any thread of a team that met an index out of range; thrown after the team ends.
class IndexFault {
 public:
  void mark() { hit_.store(true, std::memory_order_relaxed); }
  bool hit() const { return hit_.load(std::memory_order_relaxed); }
  void throw_if_hit(const char* what) const {
    if (hit())
      throw std::invalid_argument(std::string(what) +
                                  " changed while the kernel ran (another thread wrote "
                                  "them): an entry out of range was read and skipped; the "
                                  "outputs are undefined");
  }

 private:
  std::atomic<bool> hit_{false};
};

}  // namespace fastmlp
