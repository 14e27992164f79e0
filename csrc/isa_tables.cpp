#include "isa_tables.h"

namespace fastmlp {

const GemmKernels& gemm_kernels_for(Isa isa) {
  switch (isa) {
    case Isa::avx512: return gemm_kernels_avx512();
    case Isa::avx2: return gemm_kernels_avx2();
    default: return gemm_kernels_generic();
  }
}

const Ops& ops_for(Isa isa) {
  switch (isa) {
    case Isa::avx512: return ops_avx512();
    case Isa::avx2: return ops_avx2();
    default: return ops_generic();
  }
}

}  // namespace fastmlp
