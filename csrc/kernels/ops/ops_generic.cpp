// The Ops kernels compiled for the generic path (flags in CMakeLists.txt).
#include "kernels/ops/ops_impl.h"

namespace fastmlp {
const Ops& ops_generic() { return kOps; }
}  // namespace fastmlp
