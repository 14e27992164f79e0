"""The numba backend's compiled kernels, one concept per module.

options      compile options shared by all kernels (cache=True)
simd         the GEMM register microkernel (explicit LLVM vectors)
gemm         packed, cache-blocked, parallel GEMM with a fused bias/activation epilogue
activations  activation functions and derivatives; activation_backward
bias_grad    column sums
loss         softmax cross-entropy
adam         the fused Adam step
"""
