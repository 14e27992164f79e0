"""Backend.adam_train_steps (several gathered minibatches' forward_backward + adam_step in
one call) and the training loop's chunked path built on it (Adam.train_steps).

The tests describe a call as one dict of arguments; a backend takes the network's arrays
among them as a NetworkState, the extension as a fastmlp._cpp.Network (see flat_calls).

Its contract is "the same as the per-step calls", so everything here is checked bitwise
against the per-step sequence on the same backend: the kernel against forward_backward +
adam_step called one by one, and fastmlp.train's chunked epochs against its per-step
epochs (train.FUSED_CHUNK_STEPS = 0). The per-step kernels themselves are checked against
the NumPy oracle in test_parity.py.
"""
from __future__ import annotations

import functools
import importlib
import re

import numpy as np
import pytest

import fastmlp
import flat_calls
from fastmlp import backends

train_module = importlib.import_module("fastmlp.train")  # fastmlp.train is the function
CHUNK = train_module.FUSED_CHUNK_STEPS  # the default: chunked

SIZES = (23, 17, 12, 5)  # widths that are no multiple of any vector width
BATCH = 16


def _problem(dtype=np.float32, sizes=SIZES, rows=103, batch=BATCH, seed=0):
    """Data, a model's flat arrays and Adam state, and the loop's buffers; 103 rows of 16
    per batch: 7 steps, the last one of 7 rows."""
    rng = np.random.default_rng(seed)
    x = rng.random((rows, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], rows).astype(np.int64)
    model = fastmlp.MLP(sizes, seed=1, backend="numpy", dtype=dtype)
    p = dict(x=x, labels=y, order=rng.permutation(rows), batch_size=batch,
             xb=np.empty((batch, sizes[0]), dtype), yb=np.empty(batch, np.int64),
             weights=model.weights, biases=model.biases, weight_grads=model.weight_grads,
             bias_grads=model.bias_grads,
             acts=[np.empty((batch, f), dtype) for f in sizes[1:]],
             grads=[np.empty((batch, f), dtype) for f in sizes[1:]], activation="relu",
             params=model.params, param_grads=model.grads, m=np.zeros_like(model.params),
             v=np.zeros_like(model.params), lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8,
             weight_decay=0.0)
    return p, -(-rows // batch)


def _backend_call(be):
    """be.adam_train_steps called with the binding's arguments p."""
    return functools.partial(flat_calls.adam_train_steps, be)


def _per_step(be, p, start, steps, t0):
    """The sequence adam_train_steps stands for, kernel by kernel."""
    losses = []
    for s in range(steps):
        idx = p["order"][start + s * p["batch_size"]:start + (s + 1) * p["batch_size"]]
        k = idx.shape[0]
        xb, yb = np.take(p["x"], idx, axis=0), np.take(p["labels"], idx)
        losses.append(flat_calls.forward_backward(
            be, xb, yb, p["weights"], p["biases"], p["weight_grads"], p["bias_grads"],
            [a[:k] for a in p["acts"]], [g[:k] for g in p["grads"]], p["activation"]))
        be.adam_step(p["params"], p["param_grads"], p["m"], p["v"], p["lr"], p["beta1"],
                     p["beta2"], p["eps"], t0 + s + 1, p["weight_decay"])
    return np.array(losses)


def _chunk(be, p, start, steps, t0):
    losses = np.empty(steps)
    out = _backend_call(be)(start=start, steps=steps, t0=t0, losses=losses, **p)
    assert out is losses
    return losses


@pytest.mark.parametrize("weight_decay", [0.0, 1e-3])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_a_chunk_is_bitwise_the_per_step_sequence(any_backend, activation, weight_decay):
    # the whole epoch in chunks of 3 (the last chunk ends with the short batch), from
    # step number 5 on, against the per-step calls on the same backend
    runs = []
    for run in (_per_step, _chunk):
        p, steps = _problem()
        p.update(activation=activation, weight_decay=weight_decay)
        losses = [run(any_backend, p, s * BATCH, min(3, steps - s), 5 + s)
                  for s in range(0, steps, 3)]
        runs.append((np.concatenate(losses), p["params"].copy(), p["m"], p["v"],
                     p["param_grads"].copy()))
    for want, got in zip(*runs):
        np.testing.assert_array_equal(got, want)


def test_a_chunk_counts_the_rows_each_step_classified_right(any_backend):
    # correct[s] is the count of step s's rows whose logits (before its update) have their
    # label as argmax: against np.argmax of the per-step sequence's logits, same backend
    p, steps = _problem()
    p["lr"] = 0.5  # large steps: the counts change from step to step
    want = []
    for s in range(steps):
        _per_step(any_backend, p, s * BATCH, 1, s)
        k = min(BATCH, p["x"].shape[0] - s * BATCH)
        idx = p["order"][s * BATCH:s * BATCH + k]
        want.append(np.count_nonzero(np.argmax(p["acts"][-1][:k], axis=1) == p["labels"][idx]))
    q, _ = _problem()
    q["lr"] = 0.5
    correct = np.full(steps, -1, np.int64)
    _backend_call(any_backend)(start=0, steps=steps, t0=0, losses=np.empty(steps),
                               correct=correct, **q)
    assert correct.tolist() == want
    assert len(set(want)) > 1
    np.testing.assert_array_equal(q["params"], p["params"])


@pytest.mark.parametrize("correct, error, match", [
    (np.zeros(3, np.int32), TypeError, "correct must be an int64"),
    (np.zeros(2, np.int64), ValueError, "correct must have shape"),
    (np.broadcast_to(np.int64(0), (3,)), ValueError, "correct must be"),  # read-only view
])
def test_a_wrong_correct_array_is_refused(any_backend, correct, error, match):
    p, _ = _problem()
    with pytest.raises(error, match=match):
        _backend_call(any_backend)(start=0, steps=3, t0=0, losses=np.empty(3), correct=correct,
                                   **p)


def test_float64_chunks_run_the_oracle(any_backend, oracle):
    p, steps = _problem(np.float64)
    q, _ = _problem(np.float64)
    np.testing.assert_array_equal(_chunk(any_backend, p, 0, steps, 0), _chunk(oracle, q, 0, steps, 0))
    np.testing.assert_array_equal(p["params"], q["params"])


def test_zero_steps_change_nothing(any_backend):
    p, _ = _problem()
    before = p["params"].copy()
    _chunk(any_backend, p, 0, 0, 0)
    np.testing.assert_array_equal(p["params"], before)


def _train(backend, chunk, monkeypatch, epochs=3, **kwargs):
    monkeypatch.setattr(train_module, "FUSED_CHUNK_STEPS", chunk)
    rng = np.random.default_rng(7)
    x = rng.random((1000, 30)).astype(np.float32)  # 1000 = 27 * 37 + 1: a last batch of 1
    y = rng.integers(0, 7, 1000)
    xt, yt = rng.random((50, 30)).astype(np.float32), rng.integers(0, 7, 50)
    model = fastmlp.MLP([30, 24, 16, 7], seed=3, backend=backend)
    kwargs = {"batch_size": 37, "seed": 1, "progress": False, **kwargs}
    history = fastmlp.train(model, x, y, xt, yt, epochs=epochs, **kwargs)
    return model, history


def _same_run(a, b):
    (ma, ha), (mb, hb) = a, b
    np.testing.assert_array_equal(ma.params, mb.params)
    for field in ("loss", "batch_accuracy", "train_accuracy", "test_loss", "test_accuracy",
                  "grad_norms", "weight_norms", "lr"):
        assert getattr(ha, field) == getattr(hb, field), field


@pytest.mark.parametrize("options", [
    {},
    {"progress": True, "schedule": "cosine", "weight_decay": 1e-4, "norm_samples": 7},
    {"batch_size": 1000, "norm_samples": 0},  # one full-data batch per epoch
    {"schedule": "onecycle", "norm_samples": 4},  # the rate changes within epochs
], ids=["plain", "bar-schedule-decay", "one-batch", "per-step-schedule"])
@pytest.mark.parametrize("backend", ["numpy", "numba", "cpp"])
def test_chunked_training_is_bitwise_the_per_step_training(backend, options, monkeypatch):
    if not backends.available_backends().get(backend):
        pytest.skip(f"{backend} backend not available")
    calls = []
    be = backends.get_backend(backend)
    chunk_kernel = be.adam_train_steps
    monkeypatch.setattr(be, "adam_train_steps", lambda *a, **k: calls.append(1) or chunk_kernel(*a, **k))
    per_step = _train(backend, 0, monkeypatch, **options)
    assert calls == []
    chunked = _train(backend, CHUNK, monkeypatch, **options)
    assert calls, "the chunked path was not taken"
    _same_run(per_step, chunked)


def test_chunks_end_where_norms_are_sampled_and_the_bar_updates(monkeypatch):
    monkeypatch.setattr(train_module, "FUSED_CHUNK_STEPS", 50)
    ends, s = [], 0
    while s < 938:
        ends.append(train_module._chunk_end(s, 938, 46, 0))
        s = ends[-1] + 1
    assert ends[:4] == [0, 46, 92, 138] and ends[-1] == 937
    assert train_module._chunk_end(1, 938, 46, 25) == 25
    assert train_module._chunk_end(26, 938, 0, 0) == 75
    assert train_module._chunk_end(930, 938, 46, 25) == 937


def test_same_seed_same_chunked_run(monkeypatch):
    backend = "cpp" if backends.available_backends().get("cpp") else "numpy"
    runs = [_train(backend, CHUNK, monkeypatch, epochs=2)
            for _ in range(2)]
    _same_run(*runs)
    other = _train(backend, CHUNK, monkeypatch, epochs=2, seed=2)
    assert not np.array_equal(other[0].params, runs[0][0].params)


def test_the_optimizer_keeps_its_step_count(monkeypatch):
    monkeypatch.setattr(train_module, "FUSED_CHUNK_STEPS", 50)
    rng = np.random.default_rng(0)
    x, y = rng.random((100, 4)).astype(np.float32), rng.integers(0, 3, 100)
    model = fastmlp.MLP([4, 8, 3], seed=0, backend="numpy")
    opt = fastmlp.optim.Adam(model)
    fastmlp.train(model, x, y, epochs=2, batch_size=30, optimizer=opt, progress=False)
    assert opt.t == 8


@pytest.mark.parametrize("make", [
    lambda m: fastmlp.optim.AdamW(m),
    lambda m: type("MyAdam", (fastmlp.optim.Adam,), {"step": lambda self: fastmlp.optim.Adam.step(self)})(m),
    lambda m: fastmlp.optim.SGD(m),
], ids=["adamw", "adam-subclass-own-step", "sgd"])
def test_other_rules_step_one_by_one(make, monkeypatch):
    be = backends.get_backend("numpy")
    monkeypatch.setattr(be, "adam_train_steps", lambda *a, **k: pytest.fail("chunked"))
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 4)).astype(np.float32), rng.integers(0, 3, 64)
    model = fastmlp.MLP([4, 8, 3], seed=0, backend="numpy")
    opt = make(model)
    fastmlp.train(model, x, y, epochs=1, batch_size=16, optimizer=opt, progress=False)
    dropout = fastmlp.MLP([4, 8, 3], seed=0, backend="numpy", dropout=0.2)
    assert not fastmlp.optim.Adam(dropout).can_train_steps()


# -- argument checks: the Python validation and the C++ binding reject the same inputs ---
def _bad(**changes):
    def build():
        p, steps = _problem()
        p.update(start=0, steps=steps, t0=0, losses=np.empty(steps))
        for key, change in changes.items():
            p[key] = change(p)
        return p
    return build


BAD = {
    "order index too large": (_bad(order=lambda p: np.where(p["order"] == 5, 103, p["order"])), ValueError, "order"),
    "order index negative": (_bad(order=lambda p: np.where(p["order"] == 5, -1, p["order"])), ValueError, "order"),
    "order too short": (_bad(order=lambda p: p["order"][:90]), ValueError, "too few"),
    "start past the end": (_bad(start=lambda p: 200, steps=lambda p: 1, losses=lambda p: np.empty(1)), ValueError, "too few"),
    "negative start": (_bad(start=lambda p: -1), ValueError, "start"),
    "order dtype": (_bad(order=lambda p: p["order"].astype(np.int32)), TypeError, "order"),
    "label out of range": (_bad(labels=lambda p: np.full(103, 5)), ValueError, "labels"),
    "labels shape": (_bad(labels=lambda p: p["labels"][:50]), ValueError, "labels"),
    "batch size 0": (_bad(batch_size=lambda p: 0), ValueError, "batch_size"),
    "xb shape": (_bad(xb=lambda p: np.empty((8, 23), np.float32)), ValueError, "xb"),
    "xb dtype": (_bad(xb=lambda p: p["xb"].astype(np.float64)), TypeError, "float64"),
    "yb read-only": (_bad(yb=lambda p: np.lib.stride_tricks.as_strided(p["yb"], writeable=False)), ValueError, "yb"),
    "acts rows": (_bad(acts=lambda p: [np.empty((8, a.shape[1]), np.float32) for a in p["acts"]]), ValueError, "acts[0]"),
    "losses shape": (_bad(losses=lambda p: np.empty(3)), ValueError, "losses"),
    "losses dtype": (_bad(losses=lambda p: np.empty(7, np.float32)), TypeError, "losses"),
    "weights not in params": (_bad(weights=lambda p: [w.copy() for w in p["weights"]]), ValueError, "weights[0]"),
    "grads not in param_grads": (_bad(weight_grads=lambda p: [w.copy() for w in p["weight_grads"]]), ValueError, "weight_grads[0]"),
    "m shape": (_bad(m=lambda p: np.zeros(5, np.float32)), ValueError, "m"),
    "xb overlaps x": (_bad(xb=lambda p: p["x"][:16]), ValueError, "overlap"),
    "acts overlap grads": (_bad(grads=lambda p: p["acts"]), ValueError, "overlap"),
    "beta2 1": (_bad(beta2=lambda p: 1.0), ValueError, "beta2"),
    "negative t0": (_bad(t0=lambda p: -1), ValueError, "t0"),
    "activation": (_bad(activation=lambda p: "swish"), ValueError, "activation"),
}


# hyperparameter ranges: Python's rules (fastmlp.hyperparameters), not the extension's
NOT_MEMORY_SAFETY = {"beta2 1"}


@pytest.mark.parametrize("entry", ["python", "cpp-backend", "binding"])
@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_arguments_are_rejected(case, entry):
    build, exc, match = BAD[case]
    if entry == "python":
        call = _backend_call(backends.get_backend("numpy"))
    else:
        if not backends.available_backends().get("cpp"):
            pytest.skip("cpp backend not available")
        if entry == "binding" and case in NOT_MEMORY_SAFETY:
            pytest.skip("a Python rule: the extension checks what memory safety needs")
        call = (_backend_call(backends.get_backend("cpp")) if entry == "cpp-backend"
                else flat_calls.binding_adam_train_steps)
    p = build()
    before = p["params"].copy()
    with pytest.raises(exc, match=re.escape(match)):
        call(**p)
    np.testing.assert_array_equal(p["params"], before)  # rejected before any step ran
