"""The numba backend's compiled kernels, one concept per module.

options      compile options shared by all kernels (cache=True)
denormals    FTZ/DAZ on and off around each task (MXCSR intrinsics)
simd         the GEMM register microkernel with its vector write-back (explicit LLVM vectors)
gemm         packed, cache-blocked, parallel GEMM with a fused bias/activation epilogue
activations  activation functions and derivatives; activation_backward
bias_grad    column sums
loss         softmax cross-entropy
adam         the fused Adam step
step         a training step's forward and backward pass as one call
"""
