"""Dropout, batch norm, weight decay, initializations, and saving the new layers."""
import numpy as np
import pytest

import fastmlp
from fastmlp.model import MLP

BACKENDS = ["numpy", "numba", "cpp"]


# -- dropout ---------------------------------------------------------------------------
def test_dropout_kernel_zeroes_below_p_and_scales_the_rest():
    be = fastmlp.get_backend("numpy")
    x = np.array([[1.0, 2.0, 3.0, 4.0]], np.float32)
    noise = np.array([[0.1, 0.5, 0.2, 0.9]], np.float32)
    out = be.dropout(x, noise, 0.25, np.empty_like(x))
    np.testing.assert_allclose(out, [[0.0, 2.0 / 0.75, 0.0, 4.0 / 0.75]], rtol=1e-7)
    be.dropout(x, noise, 0.0, x)  # p = 0 keeps everything (in place)
    np.testing.assert_array_equal(x, [[1.0, 2.0, 3.0, 4.0]])
    with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\)"):
        be.dropout(x, noise, 1.0, x)


def _dropout_step(backend, seed=3):
    rng = np.random.default_rng(0)
    x = rng.random((32, 12)).astype(np.float32)
    y = rng.integers(0, 4, 32).astype(np.int64)
    model = MLP([12, 16, 8, 4], seed=1, dropout=0.5, backend=backend)
    loss = model.loss_and_grad(x, y, rng=np.random.default_rng(seed))
    return model, loss


def test_dropout_masks_are_the_same_on_every_backend():
    ref, ref_loss = _dropout_step("numpy")
    for name in BACKENDS[1:]:
        model, loss = _dropout_step(name)
        for mine, theirs in zip(model._ws.noise[:-1], ref._ws.noise[:-1]):
            np.testing.assert_array_equal(mine, theirs)
        for mine, theirs in zip(model._ws.dropped[:-1], ref._ws.dropped[:-1]):
            np.testing.assert_array_equal(mine == 0, theirs == 0)  # the same units dropped
        assert loss == pytest.approx(ref_loss, rel=1e-5)
        np.testing.assert_allclose(model.grads, ref.grads, rtol=1e-4, atol=1e-6)


def test_dropout_masks_follow_the_generator():
    a, _ = _dropout_step("numpy", seed=3)
    b, _ = _dropout_step("numpy", seed=4)
    assert not np.array_equal(a._ws.noise[0], b._ws.noise[0])
    dropped = a._ws.noise[0] < 0.5
    assert 0.4 < dropped.mean() < 0.6  # p = 0.5 of 32 x 16 units
    assert np.all(a._ws.dropped[0][dropped] == 0)
    kept = ~dropped
    np.testing.assert_allclose(a._ws.dropped[0][kept], a._ws.acts[0][kept] * 2, rtol=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_is_off_in_evaluation(backend):
    # Bitwise only within one backend (and ISA path): the plain model runs on the same one.
    model, _ = _dropout_step(backend)
    plain = MLP([12, 16, 8, 4], seed=1, backend=backend)
    plain.params[...] = model.params
    x = np.random.default_rng(5).random((9, 12)).astype(np.float32)
    np.testing.assert_array_equal(model.logits(x), plain.logits(x))
    np.testing.assert_array_equal(model.logits(x), model.logits(x))


def test_dropout_training_uses_the_per_kernel_path():
    assert MLP([4, 3, 2]).uses_fused_step
    assert not MLP([4, 3, 2], dropout=0.1).uses_fused_step
    assert not MLP([4, 3, 2], batch_norm=True).uses_fused_step
    assert not MLP([4, 3, 2], loss="mse").uses_fused_step


# -- batch norm --------------------------------------------------------------------------
def test_batch_norm_forward_normalizes_and_updates_running_stats_like_torch():
    be = fastmlp.get_backend("numpy")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 5)) * 3 + 2
    gamma, beta = np.full(5, 2.0), np.full(5, -1.0)
    out, mean, invstd = np.empty_like(x), np.empty(5), np.empty(5)
    rm, rv = np.zeros(5), np.ones(5)
    be.batch_norm_forward(x, gamma, beta, out, mean, invstd, rm, rv, momentum=0.1, eps=1e-5)
    np.testing.assert_allclose(out.mean(axis=0), -1.0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 2.0 / np.sqrt(1 + 1e-5 / x.var(axis=0)), rtol=1e-12)
    np.testing.assert_allclose(invstd, 1 / np.sqrt(x.var(axis=0) + 1e-5), rtol=1e-12)
    # running stats: 0.9 * old + 0.1 * batch, with the unbiased variance (torch)
    np.testing.assert_allclose(rm, 0.1 * x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(rv, 0.9 + 0.1 * x.var(axis=0, ddof=1), rtol=1e-12)


def test_batch_norm_inference_uses_the_running_stats():
    be = fastmlp.get_backend("numpy")
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    out = be.batch_norm_inference(x, np.array([1.0, 2.0]), np.array([0.0, 1.0]),
                                  np.array([1.0, 2.0]), np.array([4.0, 16.0]), np.empty_like(x),
                                  eps=0.0 + 1e-12)
    np.testing.assert_allclose(out, [[0.0, 1.0], [1.0, 1.0 + 2 * 4 / 4]], rtol=1e-9)


@pytest.mark.parametrize("in_place", [False, True])
def test_batch_norm_backward_matches_finite_differences(in_place):
    be = fastmlp.get_backend("numpy")
    rng = np.random.default_rng(1)
    n, f = 7, 4
    x, gamma, beta = rng.standard_normal((n, f)), rng.standard_normal(f), rng.standard_normal(f)
    weight = rng.standard_normal((n, f))  # loss = sum(weight * bn(x))

    def loss(x, gamma, beta):
        out, mean, invstd = np.empty_like(x), np.empty(f), np.empty(f)
        be.batch_norm_forward(x, gamma, beta, out, mean, invstd, np.zeros(f), np.ones(f))
        return np.sum(weight * out), mean, invstd

    _, mean, invstd = loss(x, gamma, beta)
    grad = weight.copy()
    grad_x = grad if in_place else np.empty_like(x)
    grad_gamma, grad_beta = np.empty(f), np.empty(f)
    be.batch_norm_backward(grad, x, gamma, mean, invstd, grad_x, grad_gamma, grad_beta)

    def numeric(array, shape):
        result = np.empty(shape)
        for idx in np.ndindex(shape):
            keep = array[idx]
            array[idx] = keep + 1e-6
            up = loss(x, gamma, beta)[0]
            array[idx] = keep - 1e-6
            down = loss(x, gamma, beta)[0]
            array[idx] = keep
            result[idx] = (up - down) / 2e-6
        return result

    for analytic, array in ((grad_x, x), (grad_gamma, gamma), (grad_beta, beta)):
        num = numeric(array, array.shape)
        assert np.linalg.norm(analytic - num) / np.linalg.norm(num) < 1e-7


def test_batch_norm_needs_two_rows_and_training_skips_a_single_last_sample():
    be = fastmlp.get_backend("numpy")
    f = 3
    with pytest.raises(ValueError, match="at least 2 rows"):
        be.batch_norm_forward(np.ones((1, f)), np.ones(f), np.zeros(f), np.empty((1, f)),
                              np.empty(f), np.empty(f), np.zeros(f), np.ones(f))
    rng = np.random.default_rng(0)
    x, y = rng.random((33, 4)).astype(np.float32), rng.integers(0, 2, 33)
    model = MLP([4, 5, 2], batch_norm=True, seed=0)
    h = fastmlp.train(model, x, y, epochs=2, batch_size=8, progress=False)  # 4 x 8 + 1
    assert np.isfinite(h.loss).all()


def test_batch_norm_layers_have_gamma_and_beta_in_the_flat_buffer():
    model = MLP([6, 5, 4, 3], batch_norm=True, seed=0)
    names = [name for name, _, _ in model.named_parameters()]
    assert names == ["W1", "gamma1", "beta1", "W2", "gamma2", "beta2", "W3", "b3"]
    assert model.params.size == 6 * 5 + 2 * 5 + 5 * 4 + 2 * 4 + 4 * 3 + 3
    assert all(np.shares_memory(p, model.params) for _, p, _ in model.named_parameters())
    assert all(np.shares_memory(g, model.grads) for _, _, g in model.named_parameters())
    assert np.all(model.gammas[0] == 1) and np.all(model.running_vars[1] == 1)
    assert model.gammas[2] is None and model.running_means[2] is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_norm_and_dropout_network_learns(backend):
    x, y, xt, yt = fastmlp.datasets.load_toy("spirals", n_train=1000, n_test=500, seed=0)
    model = MLP([2, 64, 64, 2], batch_norm=True, dropout=0.1, seed=0, backend=backend)
    h = fastmlp.train(model, x, y, xt, yt, epochs=40, batch_size=32, lr=0.01, progress=False)
    assert h.test_accuracy[-1] > 0.9
    assert np.all(model.running_vars[0] != 1)  # the running statistics moved


# -- persistence ----------------------------------------------------------------------------
def test_save_and_load_keep_batch_norm_statistics_loss_and_dropout(tmp_path):
    x, y, xt, _ = fastmlp.datasets.load_toy("xor", n_train=300, n_test=50, seed=0)
    model = MLP([2, 8, 1], activation="tanh", loss="bce", batch_norm=True, dropout=0.2,
                init="xavier_uniform", seed=0, backend="numpy")
    fastmlp.train(model, x, y, epochs=2, batch_size=32, progress=False)
    path = tmp_path / "bn.npz"
    model.save(path)
    loaded = MLP.load(path, backend="numpy")
    assert loaded.config() == model.config()
    np.testing.assert_array_equal(loaded.buffers, model.buffers)
    np.testing.assert_array_equal(loaded.logits(xt), model.logits(xt))
    with np.load(path, allow_pickle=False) as f:
        assert {"params", "buffers", "loss", "batch_norm"} <= set(f.files)


def test_version_1_model_files_still_load(tmp_path):
    model = MLP([5, 4, 3], activation="tanh", seed=2)
    path = tmp_path / "v1.npz"
    np.savez(path, format_version=np.int64(1), sizes=np.array([5, 4, 3]),
             activation=np.str_("tanh"), init=np.str_("he"), params=model.params)
    loaded = MLP.load(path)
    np.testing.assert_array_equal(loaded.params, model.params)
    assert loaded.loss.name == "cross_entropy" and not loaded.batch_norm


# -- initialization ------------------------------------------------------------------------
@pytest.mark.parametrize("init,std", [
    ("he", np.sqrt(2 / 1000)), ("he_uniform", np.sqrt(2 / 1000)),
    ("xavier", np.sqrt(2 / 1500)), ("xavier_uniform", np.sqrt(2 / 1500)),
    ("glorot_uniform", np.sqrt(2 / 1500)),
])
def test_init_schemes(init, std):
    model = MLP([1000, 500, 10], init=init, seed=0)
    w = model.weights[0]
    assert w.std() == pytest.approx(std, rel=0.02)
    if "uniform" in init:  # U(-a, a) with a = sqrt(3) * std
        assert np.abs(w).max() <= np.sqrt(3) * std
        assert np.abs(w).max() > 0.99 * np.sqrt(3) * std
    assert all(np.all(b == 0) for b in model.biases)
    np.testing.assert_array_equal(MLP([1000, 500, 10], init=init, seed=0).params, model.params)


@pytest.mark.parametrize("kwargs,message", [
    (dict(dropout=1.0), r"dropout probability must be in \[0, 1\)"),
    (dict(dropout=-0.1), r"dropout probability must be in \[0, 1\)"),
    (dict(bn_momentum=2.0, batch_norm=True), "batch norm momentum"),
    (dict(loss="hinge"), "unknown loss 'hinge'; known: cross_entropy, mse, bce"),
    (dict(loss="bce"), "needs a single output unit"),
    (dict(init="lecun"), "unknown init 'lecun'"),
])
def test_layer_arguments_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MLP([4, 3, 3], **kwargs)
