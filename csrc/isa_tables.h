// The kernel tables of an ISA path: which compiled translation units run for it.
#pragma once
#include "dispatch.h"
#include "gemm/microkernel.h"
#include "ops/ops.h"

namespace fastmlp {

const GemmKernels& gemm_kernels_for(Isa isa);
const Ops& ops_for(Isa isa);

}  // namespace fastmlp
