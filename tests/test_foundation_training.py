"""Training end to end on the real MNIST."""
import numpy as np
import pytest

import fastmlp


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
