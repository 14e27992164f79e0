"""NaN and infinity: refused in training data, and a diverging run stops with a clear error."""
import numpy as np
import pytest

import fastmlp
from fastmlp import MLP, EarlyStopping, NonFiniteError, NonFiniteLossError, train
from fastmlp.cli import main
from fastmlp.datasets import load_toy
from fastmlp.finite import first_non_finite_row


@pytest.fixture(scope="module")
def xor():
    return load_toy("xor", n_train=400, n_test=100, seed=0)


def _model(backend="numpy"):
    return MLP([2, 16, 2], seed=0, backend=backend)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("which", ["training", "validation", "test"])
def test_non_finite_data_is_refused_naming_the_array_and_row(xor, bad, which):
    x, y, xt, yt = (a.copy() for a in xor)
    xv, yv = x[:50].copy(), y[:50].copy()
    target = {"training": x, "validation": xv, "test": xt}[which]
    target[37, 1] = bad
    model = _model()
    before = model.params.copy()
    with pytest.raises(NonFiniteError, match=rf"{which} data x holds non-finite values: "
                                             rf"row 37 contains {bad}"):
        train(model, x, y, xt, yt, validation_data=(xv, yv), epochs=1, progress=False)
    np.testing.assert_array_equal(model.params, before)  # refused before any step


def test_check_finite_false_trains_on_non_finite_data_as_asked(xor):
    x, y, xt, yt = (a.copy() for a in xor)
    x[3, 0] = np.nan
    with pytest.raises(NonFiniteLossError):  # the NaN reaches the loss: the run stops there
        train(_model(), x, y, epochs=1, batch_size=400, progress=False, check_finite=False,
              optimizer="sgd")


def test_first_non_finite_row_scans_past_overflowing_sums():
    x = np.full((10_000, 3), 3e38, np.float32)  # the sum overflows; every entry is finite
    assert first_non_finite_row(x) is None
    x[9_000, 2] = np.inf
    assert first_non_finite_row(x) == 9_000
    assert first_non_finite_row(np.array([1.0, np.nan])) == 1
    assert first_non_finite_row(np.arange(5)) is None  # integers are always finite


@pytest.mark.parametrize("optimizer,backend", [("sgd", "numpy"), ("adam", "numpy"),
                                               ("adam", "cpp"), ("adam", "numba")])
def test_a_non_finite_loss_stops_training_naming_epoch_and_step(xor, optimizer, backend):
    if backend not in fastmlp.available_backends():
        pytest.skip(f"{backend} does not load here")
    x, y, xt, yt = xor
    model = _model(backend)
    with pytest.raises(NonFiniteLossError, match=r"training diverged: the loss became "
                                                 r"(nan|inf) at epoch 1, step \d+ of 13") as info:
        with np.errstate(all="ignore"):
            train(model, x, y, xt, yt, epochs=3, batch_size=32, lr=1e30, optimizer=optimizer,
                  progress=False)
    assert info.value.epoch == 1 and 1 <= info.value.step <= 13
    assert info.value.history.epochs == 0


def test_a_diverged_run_keeps_the_best_weights_of_early_stopping(xor):
    x, y, xt, yt = xor
    model = _model()
    lrs = iter([0.01, 0.01, 1e30])

    def schedule(epoch, base_lr, epochs):
        return next(lrs)
    with pytest.raises(NonFiniteLossError,
                       match="at epoch 3.*early stopping restored the weights of epoch") as info:
        with np.errstate(all="ignore"):
            train(model, x, y, epochs=3, batch_size=32, optimizer="sgd", val_split=0.2,
                  early_stopping=EarlyStopping(patience=5), schedule=schedule, progress=False)
    assert info.value.history.best_epoch in (0, 1)
    assert np.isfinite(model.params).all()


def test_the_cli_reports_a_diverged_run_in_one_line(tmp_path, capsys):
    path = tmp_path / "model.npz"
    code = main(["train", "--dataset", "xor", "--epochs", "2", "--lr", "1e30", "--optimizer",
                 "sgd", "--backend", "numpy", "--no-progress", "--save", str(path)])
    err = capsys.readouterr().err
    assert code == 1 and not path.exists()
    assert err.count("\n") == 1 and "training diverged" in err and "epoch 1, step" in err


def test_parameters_that_overflow_on_the_last_step_stop_the_run(xor):
    x, y, _, _ = xor
    model = _model()
    with pytest.raises(NonFiniteLossError, match="the parameters became non-finite at epoch 1, "
                                                 "step 1 of 1"):
        with np.errstate(all="ignore"):  # one step, whose loss is still finite
            train(model, x, y, epochs=2, batch_size=400, lr=1e300, optimizer="sgd",
                  progress=False)
