"""Edge-case kernel arguments get the same documented answer on every backend: a clear
ValueError / TypeError or the same result, never an OverflowError, ZeroDivisionError or a
numba typing error."""
import numpy as np
import pytest

from fastmlp.backends import NetworkState, available_backends, get_backend

F = np.float32
BACKENDS = [b for b in ("numpy", "numba", "cpp") if b in available_backends()]


def _outcome(fn):
    """('ok', None) or (exception type, message) of one call."""
    try:
        with np.errstate(all="ignore"):
            fn()
    except (ValueError, TypeError) as exc:
        return type(exc).__name__, str(exc).split(",")[0]
    return "ok", None


def _same_everywhere(call):
    outcomes = {name: _outcome(lambda: call(get_backend(name))) for name in BACKENDS}
    assert len(set(outcomes.values())) == 1, outcomes
    return next(iter(outcomes.values()))


def _adam(step, lr=1e-3, kernel="adam_step", shape=(4,)):
    def call(be):
        p, g, m, v = (np.ones(shape, F) for _ in range(4))
        getattr(be, kernel)(p, g, m, v, lr, 0.9, 0.999, 1e-8, step, 0.0)
    return call


@pytest.mark.parametrize("kernel", ["adam_step", "adamw_step"])
@pytest.mark.parametrize("step,accepted", [(1, True), (2**62, True), (8.9e18, True),
                                           (2**63 - 1, False), (2**63, False), (2**64, False),
                                           (10**30, False), (0, False), (1.5, False),
                                           (float("inf"), False), (float("nan"), False)])
def test_step_numbers_are_judged_alike(kernel, step, accepted):
    outcome = _same_everywhere(_adam(step, kernel=kernel))
    assert outcome == (("ok", None) if accepted else
                       ("ValueError", "step must be an integer >= 1"))


@pytest.mark.parametrize("kernel", ["adam_step", "adamw_step", "rmsprop_step", "sgd_step"])
def test_zero_dimensional_optimizer_arrays_work_alike(kernel):
    def call(be):
        p, g, m, v = (np.full((), 0.5, F) for _ in range(4))
        if kernel == "sgd_step":
            be.sgd_step(p, g, m, 0.1, 0.9, False, 0.0)
        elif kernel == "rmsprop_step":
            be.rmsprop_step(p, g, m, v, 0.1, 0.9, 1e-8, 0.5, 0.0)
        else:
            getattr(be, kernel)(p, g, m, v, 0.1, 0.9, 0.999, 1e-8, 1, 0.0)
        return p
    assert _same_everywhere(call) == ("ok", None)
    results = {name: float(call(get_backend(name))) for name in BACKENDS}
    assert all(np.isclose(r, results["numpy"], rtol=1e-6) for r in results.values()), results


@pytest.mark.parametrize("lr", [10**400, -(10**400)])
def test_hyperparameters_too_large_for_a_float_are_value_errors(lr):
    for name in BACKENDS:
        be = get_backend(name)
        with pytest.raises(ValueError, match="lr"):
            be.sgd_step(np.ones(3, F), np.ones(3, F), None, lr)
        with pytest.raises(ValueError, match="lr"):
            be.rmsprop_step(np.ones(3, F), np.ones(3, F), np.ones(3, F), None, lr)
    with pytest.raises(ValueError, match="dropout probability"):
        get_backend("numpy").dropout(np.ones(3, F), np.ones(3, F), 10**400, np.ones(3, F))


def test_batch_norm_backward_with_no_rows_is_refused_alike():
    def call(be):
        x = np.zeros((0, 3), F)
        be.batch_norm_backward(x, x.copy(), np.ones(3, F), np.zeros(3, F), np.ones(3, F),
                               np.zeros((0, 3), F), np.zeros(3, F), np.zeros(3, F))
    assert _same_everywhere(call) == ("ValueError", "batch_norm_backward needs at least 1 row")


def _network(rows, batch_size=2, read_only_weight=False):
    """(x, labels, NetworkState) of a 3-4-2 relu network; x has `rows` rows."""
    w = [np.ones((4, 3), F), np.ones((2, 4), F)]
    if read_only_weight:
        w[0].flags.writeable = False  # one read-only weight among writable ones
    state = NetworkState(w, [np.zeros(4, F), np.zeros(2, F)], [np.zeros_like(a) for a in w],
                         [np.zeros(4, F), np.zeros(2, F)],
                         [np.zeros((batch_size, 4), F), np.zeros((batch_size, 2), F)],
                         [np.zeros((batch_size, 4), F), np.zeros((batch_size, 2), F)], "relu",
                         batch_size)
    return np.ones((rows, 3), F), np.zeros(rows, np.int64), state


def test_forward_backward_with_no_rows_is_refused_alike():
    assert _same_everywhere(lambda be: be.forward_backward(*_network(0))) == (
        "ValueError", "x must have at least one row")


def test_forward_backward_takes_read_only_and_writable_weights_mixed():
    def call(be):
        return be.forward_backward(*_network(2, read_only_weight=True))
    assert _same_everywhere(call) == ("ok", None)
    losses = {name: call(get_backend(name)) for name in BACKENDS}
    assert all(np.isclose(v, losses["numpy"], rtol=1e-5) for v in losses.values()), losses
