// The Ops kernels compiled for the avx512 path (flags in CMakeLists.txt).
#include "kernels/ops/ops_impl.h"

namespace fastmlp {
const Ops& ops_avx512() { return kOps; }
}  // namespace fastmlp
