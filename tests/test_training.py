"""Training: end to end on the real MNIST, and the loop's controls (validation split, early
stopping, schedules, callbacks, the history and its files, and which kernels each kind of
network trains with)."""
import json
import math

import numpy as np
import pytest

import fastmlp
from fastmlp.callbacks import Callback, EarlyStopping
from fastmlp.history import History
from fastmlp.schedules import CosineLR, StepLR
from test_optimizers import CountingBackend


def test_small_net_learns_mnist_in_a_few_epochs(mnist):
    x, y, xt, yt = mnist
    model = fastmlp.MLP([784, 256, 10], seed=0)
    history = fastmlp.train(model, x, y, xt, yt, epochs=3, batch_size=64, lr=1e-3, seed=0,
                            progress=False)
    assert history.test_accuracy[-1] >= 0.97
    assert history.loss[0] > history.loss[-1]
    assert len(history.seconds) == 3 and all(s > 0 for s in history.seconds)
    # evaluation agrees with predict
    assert np.mean(model.predict(xt) == yt) == pytest.approx(history.test_accuracy[-1])


def test_history_records_every_epoch_and_partial_last_batch():
    rng = np.random.default_rng(0)
    x = rng.random((100, 5)).astype(np.float32)
    y = (x[:, 0] > 0.5).astype(np.int64)
    model = fastmlp.MLP([5, 8, 2], seed=0)
    h = fastmlp.train(model, x, y, x, y, epochs=20, batch_size=30, lr=0.05, progress=False)
    assert len(h.loss) == len(h.train_accuracy) == len(h.test_accuracy) == 20
    assert h.test_accuracy[-1] > 0.8


@pytest.mark.parametrize("kwargs,message", [
    (dict(epochs=-1), "epochs"), (dict(batch_size=0), "batch_size"),
    (dict(lr=-0.1), "lr must be >= 0"), (dict(optimizer="lbfgs"), "unknown optimizer"),
])
def test_training_arguments_are_checked(kwargs, message):
    model = fastmlp.MLP([3, 2], seed=0)
    x, y = np.zeros((4, 3), np.float32), np.zeros(4, np.int64)
    with pytest.raises(ValueError, match=message):
        fastmlp.train(model, x, y, progress=False, **kwargs)


def test_labels_are_checked_before_training():
    model = fastmlp.MLP([3, 2], seed=0)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        fastmlp.train(model, np.zeros((4, 3), np.float32), np.array([0, 1, 2, 0]), progress=False)
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        fastmlp.train(model, np.zeros((4, 3), np.float32), np.array([0, 1]), progress=False)


@pytest.fixture
def blobs():
    return fastmlp.datasets.load_toy("gaussians", n_train=400, n_test=200, seed=0)


def test_old_call_signature_and_history_fields_still_work(blobs):
    x, y, xt, yt = blobs
    model = fastmlp.MLP([2, 8, 3], seed=0)
    h = fastmlp.train(model, x, y, xt, yt, epochs=2, batch_size=64, lr=1e-2,
                      optimizer="adam", weight_decay=0.0, seed=1, progress=False,
                      eval_train=True, log=None)
    for name in ("loss", "train_accuracy", "test_accuracy", "test_loss", "seconds"):
        assert len(getattr(h, name)) == 2
    assert all(math.isnan(v) for v in h.val_loss)  # no validation data in this run


def test_validation_split_is_seeded_and_held_out(blobs):
    x, y, _, _ = blobs
    seen = []

    class Recorder(Callback):
        def on_train_begin(self, model, history):
            seen.append(model.params.copy())

    runs = []
    for _ in range(2):
        model = fastmlp.MLP([2, 8, 3], seed=0, backend="numpy")
        runs.append(fastmlp.train(model, x, y, epochs=2, val_split=0.25, progress=False,
                                  callbacks=[Recorder()]))
    assert runs[0].val_loss == runs[1].val_loss and not math.isnan(runs[0].val_loss[0])
    # the model's own evaluation of the held-out quarter reproduces the history
    from fastmlp.train import _split
    _, _, xv, yv = _split(x, y, 0.25, seed=0)
    assert len(yv) == 100
    assert model.evaluate(xv, yv)[0] == pytest.approx(runs[1].val_loss[-1])


@pytest.mark.parametrize("backend", ["numpy", "numba", "cpp"])
def test_early_stopping_restores_the_best_weights(blobs, backend):
    x, y, _, _ = blobs
    # validation labels that contradict the training labels: validation loss rises as the
    # model learns, so the best epoch is an early one and training stops after `patience`
    x_val, y_val = x[:100], (y[:100] + 1) % 3
    snapshots = []
    model = fastmlp.MLP([2, 16, 3], seed=0, batch_norm=True, backend=backend)
    h = fastmlp.train(model, x, y, epochs=30, batch_size=32, lr=1e-2, progress=False,
                      validation_data=(x_val, y_val), early_stopping=3,
                      callbacks=[lambda epoch, hist: snapshots.append(model.get_state())])
    best = int(np.argmin(h.val_loss))
    assert h.best_epoch == best
    assert h.epochs == best + 1 + 3  # stopped `patience` epochs after the best
    np.testing.assert_array_equal(model.params, snapshots[best]["params"])
    np.testing.assert_array_equal(model.buffers, snapshots[best]["buffers"])
    assert not np.array_equal(model.params, snapshots[-1]["params"])


def test_early_stopping_needs_validation_data(blobs):
    x, y, _, _ = blobs
    with pytest.raises(ValueError, match="early stopping monitors val_loss: pass val_split"):
        fastmlp.train(fastmlp.MLP([2, 3]), x, y, early_stopping=2, progress=False)
    with pytest.raises(ValueError, match="patience must be a positive integer"):
        EarlyStopping(patience=0)


def test_early_stopping_on_accuracy_keeps_going_while_it_improves(blobs):
    x, y, xt, yt = blobs
    stopper = EarlyStopping(patience=50, monitor="val_accuracy")
    h = fastmlp.train(fastmlp.MLP([2, 8, 3], seed=0), x, y, epochs=5, val_split=0.2,
                      early_stopping=stopper, progress=False)
    assert h.epochs == 5 and h.best_epoch == int(np.argmax(h.val_accuracy))


def test_schedules_set_the_learning_rate_of_each_epoch(blobs):
    x, y, _, _ = blobs
    step = fastmlp.train(fastmlp.MLP([2, 3], seed=0), x, y, epochs=6, lr=0.1, optimizer="sgd",
                         schedule=StepLR(step_size=2, gamma=0.5), progress=False)
    assert step.lr == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    cosine = fastmlp.train(fastmlp.MLP([2, 3], seed=0), x, y, epochs=4, lr=0.1,
                           schedule="cosine", progress=False)
    assert cosine.lr == pytest.approx([0.1 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)])
    assert StepLR()(epoch=3, base_lr=1.0, epochs=9) == pytest.approx(0.1)  # a third of the run
    assert CosineLR(min_lr=0.01)(epoch=0, base_lr=0.1, epochs=10) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="unknown schedule 'linear'"):
        fastmlp.train(fastmlp.MLP([2, 3]), x, y, schedule="linear", progress=False)


def test_callbacks_see_every_epoch_and_can_stop(blobs):
    x, y, _, _ = blobs
    events = []

    class Recorder(Callback):
        def on_train_begin(self, model, history):
            events.append("begin")

        def on_epoch_end(self, epoch, model, history):
            events.append(epoch)

        def on_train_end(self, model, history):
            events.append("end")

    h = fastmlp.train(fastmlp.MLP([2, 3]), x, y, epochs=10, progress=False,
                      callbacks=[Recorder(), lambda epoch, hist: epoch == 2])
    assert events == ["begin", 0, 1, 2, "end"] and h.epochs == 3
    with pytest.raises(TypeError, match="callbacks must be Callback objects or functions"):
        fastmlp.train(fastmlp.MLP([2, 3]), x, y, callbacks=[42], progress=False)


def test_history_records_per_layer_norms(blobs):
    x, y, _, _ = blobs
    model = fastmlp.MLP([2, 8, 8, 3], seed=0)
    h = fastmlp.train(model, x, y, epochs=3, batch_size=32, progress=False)
    assert np.shape(h.grad_norms) == (3, 3) and np.shape(h.weight_norms) == (3, 3)
    assert np.all(np.asarray(h.grad_norms) > 0)
    last = [np.linalg.norm(model.params[s]) for s in model.layer_slices]
    np.testing.assert_allclose(h.weight_norms[-1], last, rtol=1e-5)
    off = fastmlp.train(fastmlp.MLP([2, 3]), x, y, epochs=1, norm_samples=0, progress=False)
    assert off.grad_norms == [[]]


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_history_files_round_trip(tmp_path, blobs, suffix):
    x, y, xt, yt = blobs
    h = fastmlp.train(fastmlp.MLP([2, 8, 3], seed=0), x, y, xt, yt, epochs=3, val_split=0.2,
                      early_stopping=5, progress=False)
    path = h.save(tmp_path / f"sub/history{suffix}")
    back = History.load(path)
    for name in ("loss", "train_accuracy", "test_accuracy", "val_loss", "lr", "seconds"):
        np.testing.assert_allclose(getattr(back, name), getattr(h, name), rtol=1e-12)
    np.testing.assert_allclose(back.grad_norms, h.grad_norms, rtol=1e-12)
    if suffix == ".json":
        assert back.best_epoch == h.best_epoch
        json.loads(path.read_text())  # strict JSON: NaN is written as null
    else:
        assert path.read_text().splitlines()[0].startswith("epoch,loss,")


def test_history_files_are_checked(tmp_path):
    with pytest.raises(ValueError, match="ends in .json or .csv"):
        History().save(tmp_path / "h.txt")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a fastmlp history file"):
        History.load(bad)


def test_plain_networks_train_through_forward_backward_others_per_kernel(blobs):
    x, y, _, _ = blobs
    for kwargs, fused in [({}, True), ({"dropout": 0.2}, False), ({"batch_norm": True}, False),
                          ({"loss": "mse"}, False)]:
        backend = CountingBackend()
        model = fastmlp.MLP([2, 8, 3], seed=0, backend=backend, **kwargs)
        fastmlp.train(model, x, y, epochs=1, batch_size=100, progress=False, eval_train=False)
        assert backend.calls.get("forward_backward", 0) == (4 if fused else 0)
        if not fused:
            assert backend.calls["gemm"] >= 4 * 2  # weight gradients of two layers per step


@pytest.mark.parametrize("kwargs,message", [
    (dict(val_split=1.0), r"val_split must be in \[0, 1\)"),
    (dict(val_split=0.001), "leaves no validation"),
    (dict(val_split=0.2, validation_data=(np.zeros((2, 2)), np.zeros(2, int))), "either val_split"),
    (dict(validation_data=(np.zeros((2, 3)), np.zeros(2, int))), "validation data: x must be"),
])
def test_training_control_arguments_are_checked(blobs, kwargs, message):
    x, y, _, _ = blobs
    with pytest.raises(ValueError, match=message):
        fastmlp.train(fastmlp.MLP([2, 3]), x[:100], y[:100], progress=False, **kwargs)
