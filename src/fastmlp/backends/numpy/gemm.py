"""The dense layer's products: gemm, dense_forward (GEMM + bias + activation), bias_grad.

In "bfloat16" matmul precision the float32 GEMM operands are rounded to bfloat16 values
held in float32, whose products np.matmul then computes exactly (8 x 8 significand bits).
"""
from __future__ import annotations

import numpy as np

from ..bfloat16 import round_to_bfloat16
from .activations import apply_activation


def gemm(be, a, b, out, trans_a, trans_b, alpha, beta):
    opa = a.T if trans_a else a
    opb = b.T if trans_b else b
    if be._bf16_matmul(out.dtype):  # exact products of the rounded operands
        opa, opb = round_to_bfloat16(opa), round_to_bfloat16(opb)
    if beta == 0.0:
        np.matmul(opa, opb, out=out)
        if alpha != 1.0:
            out *= alpha
    else:
        prod = np.matmul(opa, opb)
        out *= beta
        out += alpha * prod if alpha != 1.0 else prod


def dense_forward(be, x, w, b, out, activation, pre):
    target = out if pre is None else pre
    if be._bf16_matmul(out.dtype):  # exact products of the rounded operands
        x, w = round_to_bfloat16(x), round_to_bfloat16(w)
    np.matmul(x, w.T, out=target)
    target += b
    apply_activation(activation, target, out)


def bias_grad(be, grad, out):
    np.sum(grad, axis=0, out=out)
