"""The numba backend's compiled kernels, one concept per module.

options      compile options shared by all kernels (cache=True)
denormals    FTZ/DAZ on and off around each task (MXCSR intrinsics)
simd         the GEMM register microkernel with its vector write-back (explicit LLVM vectors)
gemm         packed, cache-blocked, parallel GEMM with a fused bias/activation epilogue
activations  activation functions and derivatives; activation_forward, activation_backward
bias_grad    column sums
loss         softmax cross-entropy, mean squared error, sigmoid binary cross-entropy
dropout      inverted dropout from caller-drawn noise
batch_norm   batch norm: training forward, inference forward, backward
adam         the fused Adam and AdamW steps
optimizers   the fused SGD (momentum, Nesterov) and RMSprop steps
step         a training step's forward and backward pass as one call
"""
