// The Ops kernels compiled for the avx2 path (flags in CMakeLists.txt).
#include "kernels/ops/ops_impl.h"

namespace fastmlp {
const Ops& ops_avx2() { return kOps; }
}  // namespace fastmlp
