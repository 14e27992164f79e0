"""The numba backend's compiled kernels: one module per kernel family, named as in every
backend's folder, and the support modules they share.

gemm         packed, cache-blocked, parallel GEMM with a fused bias/activation epilogue;
             the bias gradient (column sums)
activations  activation functions and derivatives; activation_forward, activation_backward
losses       softmax cross-entropy, mean squared error, sigmoid binary cross-entropy,
             mean squared error against real-valued targets (regression)
dropout      inverted dropout from caller-drawn noise
batch_norm   batch norm: training forward, inference forward, backward
optimizers   the fused SGD (momentum, Nesterov), RMSprop, Adam and AdamW steps
step         a training step's forward and backward pass, and a chunk of Adam training
             steps, each as one call
backend      NumbaBackend, the backend the registry loads as "numba"

support: options (compile options, cache=True), denormals (FTZ/DAZ around each task),
simd (the GEMM register microkernel with its vector write-back and the packing copies,
explicit LLVM vectors), blocking (the GEMM's cache blocking from the CPU's caches)
"""
