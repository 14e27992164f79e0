"""Backprop against central finite differences in float64, for every layer combination."""
import numpy as np
import pytest

import fastmlp
from fastmlp.backends.numpy.backend import NumpyBackend
from fastmlp.gradcheck import gradient_check
from fastmlp.model import MLP

ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh"]
LOSSES = ["cross_entropy", "mse", "bce"]


@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "bn"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_loss_and_batch_norm_combination(activation, loss, batch_norm):
    sizes = (5, 7, 6, 1 if loss == "bce" else 3)
    report = gradient_check(sizes, activation=activation, loss=loss, batch_norm=batch_norm,
                            backend="numpy", seed=1)
    assert [c.name for c in report.checks][:2] == (["W1", "gamma1"] if batch_norm else ["W1", "b1"])
    assert report.max_rel_error < 1e-6, report.format()
    assert all(c.analytic_norm > 0 for c in report.checks)  # every parameter is exercised


@pytest.mark.parametrize("backend", ["numba", "cpp"])
def test_compiled_backends_check_in_float64_through_the_oracle(backend):
    report = gradient_check(activation="relu", loss="mse", batch_norm=True, backend=backend)
    assert report.passed, report.format()
    assert "NumPy fallback" in report.format()


class WrongBatchNormBackward(NumpyBackend):
    """The classic mistake: differentiating batch norm as if mean and variance were constants."""

    def _batch_norm_backward(self, grad, x, gamma, mean, invstd, grad_x, grad_gamma, grad_beta):
        xhat = (x - mean) * invstd
        np.sum(grad, axis=0, out=grad_beta)
        np.sum(grad * xhat, axis=0, out=grad_gamma)
        np.multiply(grad, gamma * invstd, out=grad_x)


def test_a_wrong_backward_pass_is_caught():
    report = gradient_check(activation="tanh", batch_norm=True, backend=WrongBatchNormBackward())
    assert not report.passed
    failing = {c.name for c in report.checks if c.rel_error >= report.tolerance}
    assert "W1" in failing  # below the batch norm, gradients are wrong
    assert "W3" not in failing and "b3" not in failing  # above it, still right
    assert "FAIL" in report.format()


def test_checks_a_trained_model_in_float64():
    model = MLP([4, 6, 3], activation="sigmoid", dropout=0.3, batch_norm=True, seed=0)
    rng = np.random.default_rng(0)
    model.params[...] = rng.standard_normal(model.params.size).astype(np.float32) * 0.5
    report = gradient_check(model=model)
    assert report.model.dtype == np.float64 and report.model.dropout == 0.0
    np.testing.assert_array_equal(report.model.params, model.params.astype(np.float64))
    assert report.passed, report.format()


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="h must be > 0"):
        gradient_check(h=0.0)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 2"):
        gradient_check(batch_size=1)
