"""Pickling an MLP and its optimizer: configuration, parameters, buffers and optimizer state
only (no workspaces or views), and an unpickled model that trains, also from a read-only
memory map (joblib.load(..., mmap_mode="r"))."""
import pickle

import numpy as np
import pytest

import fastmlp
from fastmlp.model import MLP
from fastmlp.optim import Adam


def _data():
    x, y, _, _ = fastmlp.datasets.load_toy("circle", n_train=256, n_test=1)
    return x, y


def test_pickle_is_about_the_parameter_bytes_and_leaves_the_workspace_behind():
    model = MLP([2, 256, 256, 2], seed=0, backend="numpy", batch_norm=True)
    x, _ = _data()
    model.predict(x)  # allocates an inference workspace
    assert model._ws is not None
    data = pickle.dumps(model)
    state = model.params.nbytes + model.buffers.nbytes
    assert state < len(data) < state + 4096
    back = pickle.loads(data)
    assert back._ws is None and back.config() == model.config()
    np.testing.assert_array_equal(back.params, model.params)
    np.testing.assert_array_equal(back.buffers, model.buffers)
    assert back.weights[0].base is back.params or np.shares_memory(back.weights[0], back.params)


def test_an_optimizer_pickles_without_the_fused_steps_network_state():
    x, y = _data()
    model = MLP([2, 256, 256, 2], seed=0, backend="numpy")
    opt = Adam(model, lr=0.01)
    fastmlp.train(model, x, y, epochs=1, optimizer=opt, progress=False)
    assert opt.can_train_steps()  # trained through adam_train_steps: it holds a NetworkState
    # parameters and Adam's two moments, not the workspaces the NetworkState views
    assert len(pickle.dumps((model, opt))) < 3 * model.params.nbytes + 8192
    model2, opt2 = pickle.loads(pickle.dumps((model, opt)))
    for m, o in ((model, opt), (model2, opt2)):
        fastmlp.train(m, x, y, epochs=1, optimizer=o, progress=False, seed=3)
    np.testing.assert_array_equal(model2.params, model.params)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_an_unpickled_model_and_optimizer_train_on_like_the_original(dropout):
    x, y = _data()
    model = MLP([2, 16, 2], seed=0, backend="numpy", dropout=dropout)
    opt = Adam(model, lr=0.01)
    fastmlp.train(model, x, y, epochs=1, optimizer=opt, progress=False)
    model2, opt2 = pickle.loads(pickle.dumps((model, opt)))
    assert opt2.model is model2
    for m, o in ((model, opt), (model2, opt2)):
        fastmlp.train(m, x, y, epochs=2, optimizer=o, progress=False, seed=3)
    np.testing.assert_array_equal(model2.params, model.params)
    assert opt2.t == opt.t


def test_joblib_memory_map_gives_a_model_that_predicts_and_trains(tmp_path):
    joblib = pytest.importorskip("joblib")
    x, y = _data()
    model = MLP([2, 64, 2], seed=0, backend="numpy")
    opt = Adam(model, lr=0.01)
    fastmlp.train(model, x, y, epochs=1, optimizer=opt, progress=False)
    joblib.dump((model, opt), tmp_path / "m.joblib")
    model2, opt2 = joblib.load(tmp_path / "m.joblib", mmap_mode="r")
    np.testing.assert_array_equal(model2.predict_proba(x), model.predict_proba(x))
    assert model2.params.flags.writeable and opt2.m.flags.writeable
    fastmlp.train(model2, x, y, epochs=1, optimizer=opt2, progress=False)
    fastmlp.train(model, x, y, epochs=1, optimizer=opt, progress=False)
    np.testing.assert_array_equal(model2.params, model.params)
