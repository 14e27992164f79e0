"""The losses an MLP can train with, and what each means for the output layer.

A loss fixes the last layer's activation, the kernel that computes the loss and its
gradient, and how outputs turn into predictions. The kernels live in the Backend; this
module only names them, so the model composes any loss from the same code.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Loss:
    name: str
    kernel: str                # Backend method: (outputs, targets, grad) -> mean loss
    output_activation: str     # applied by the last layer
    grad_wrt_output: bool      # the kernel's grad is w.r.t. the activated output
    binary: bool = False       # one output unit scoring class 1
    regression: bool = False   # real-valued targets of shape (N, outputs), not labels

    def n_classes(self, n_outputs):
        """Classes the outputs score (None for regression: there are none)."""
        if self.regression:
            return None
        return 2 if self.binary else n_outputs

    def check_outputs(self, n_outputs):
        if self.regression:
            return
        if self.binary and n_outputs != 1:
            raise ValueError(f"loss {self.name!r} needs a single output unit (last size 1), "
                             f"got {n_outputs}")
        if not self.binary and n_outputs < 2:
            raise ValueError(f"loss {self.name!r} needs at least 2 output units (one per "
                             f"class), got {n_outputs}; use loss='bce' for one sigmoid output")

    def predict(self, outputs):
        """Class labels from the last layer's outputs (regression: the outputs)."""
        if self.regression:
            return outputs
        if self.binary:
            return (outputs[:, 0] > 0).astype(np.int64)
        return outputs.argmax(axis=1)

    def probabilities(self, outputs):
        """Per-class probabilities (N, classes) from the last layer's outputs, in float64."""
        if self.regression:
            raise ValueError(f"loss {self.name!r} is a regression loss: no class probabilities")
        z = outputs.astype(np.float64)
        if self.binary:
            p = np.exp(-np.logaddexp(0.0, -z[:, 0]))  # sigmoid without overflow
            return np.stack([1.0 - p, p], axis=1)
        if self.output_activation == "sigmoid":  # independent scores: normalized to sum 1
            return z / np.maximum(z.sum(axis=1, keepdims=True), np.finfo(np.float64).tiny)
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z


LOSSES = {
    # softmax over the logits; the plain MLP's fused forward_backward path uses this one
    "cross_entropy": Loss("cross_entropy", "softmax_cross_entropy", "identity", False),
    # the textbook network: sigmoid outputs against one-hot targets
    "mse": Loss("mse", "mse_loss", "sigmoid", True),
    # two classes, one logit: binary cross-entropy computed from the logit
    "bce": Loss("bce", "sigmoid_binary_cross_entropy", "identity", False, binary=True),
    # regression: linear outputs against real-valued targets, mean squared error
    "squared_error": Loss("squared_error", "mse_regression_loss", "identity", False,
                          regression=True),
}


def get_loss(name):
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; known: {', '.join(LOSSES)}") from None
