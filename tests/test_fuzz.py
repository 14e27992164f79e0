"""Malformed argument sets thrown at every public kernel of every backend configuration
(numpy, numba, cpp under each ISA through FASTMLP_ISA) and at fastmlp._cpp directly.

Each case starts from a valid call with small random sizes and applies a few mutations:
wrong dtype, shape or ndim, non-contiguous, misaligned, read-only or byte-swapped arrays,
outputs that are or overlap an input, ndarray subclasses, 0-d arrays, lists, None, labels
out of range, NaN / infinite / negative / huge hyperparameters and sizes, wrong types.
Every case runs in each target's worker process (tests/fuzz_worker.py), so a crash or a
hang ends only the worker and fails the test with the batch that caused it. Asserted:
only ValueError / TypeError (subclasses) escape; the backends accept or refuse each case
alike (fastmlp._cpp takes float32 only, so it is held to the first rule alone).

Quick profile (the normal test run): a few hundred calls per target. Long profile, at
least 10,000 calls per target:   FASTMLP_FUZZ=long python -m pytest tests/test_fuzz.py
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fastmlp import backends  # noqa: E402

LONG = os.environ.get("FASTMLP_FUZZ", "").lower() == "long"
BATCH = 100                    # cases per hypothesis example
EXAMPLES = int(os.environ.get("FASTMLP_FUZZ_EXAMPLES", 105 if LONG else 3))  # long: 10,500 calls
TIMEOUT = 600 if LONG else 300  # seconds for one batch, numba's first compilation included

WORKER = Path(__file__).with_name("fuzz_worker.py")
ACTIVATIONS = ["identity", "relu", "leaky_relu", "sigmoid", "tanh"]
HUGE = 10**12


def _targets():
    """(id, worker argument, FASTMLP_ISA or None, held to identical acceptance)."""
    available = backends.available_backends()
    targets = [("numpy", "numpy", None, True)]
    if available.get("numba"):
        targets.append(("numba", "numba", None, True))
    if available.get("cpp"):
        from fastmlp import _cpp
        for isa in ("avx512", "avx2", "generic"):
            if _cpp.cpu_supports(isa):
                targets.append((f"cpp-{isa}", "cpp", isa, True))
                targets.append((f"_cpp-{isa}", "_cpp", isa, False))
    return targets


# -- valid calls ----------------------------------------------------------------------
def arr(*shape, dtype="float32", fill="normal"):
    return {"t": "arr", "shape": list(shape), "dtype": dtype, "fill": fill}


def val(v):
    return {"t": "val", "v": v}


def _network(sizes, batch, train):
    """The binding-style network lists (see flat_calls) for layer widths `sizes`."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    lists = [{"t": "list", "items": items} for items in (
        [arr(o, i) for i, o in pairs], [arr(o) for _, o in pairs],
        [arr(o, i) for i, o in pairs], [arr(o) for _, o in pairs],
        [arr(batch, o) for _, o in pairs], [arr(batch, o) for _, o in pairs])]
    return lists


def valid_call(kernel, d):
    """A valid argument list for `kernel`, sizes drawn from d (a hypothesis draw)."""
    dim = lambda lo=0: d(st.integers(lo, 6))  # noqa: E731
    act = d(st.sampled_from(ACTIVATIONS))
    if kernel == "gemm":
        m, n, k = dim(), dim(), dim()
        ta, tb = d(st.booleans()), d(st.booleans())
        return [arr(*((k, m) if ta else (m, k))), arr(*((n, k) if tb else (k, n))), arr(m, n),
                val(ta), val(tb), val(1.0), val(d(st.sampled_from([0.0, 0.5])))]
    if kernel == "dense_forward":
        n, k, f = dim(), dim(), dim()
        return [arr(n, k), arr(f, k), arr(f), arr(n, f), val(act),
                arr(n, f) if d(st.booleans()) else val(None)]
    if kernel == "activation_backward":
        n, f = dim(), dim()
        return [val(act), arr(n, f), arr(n, f), arr(n, f), arr(n, f)]
    if kernel == "bias_grad":
        n, f = dim(), dim()
        return [arr(n, f), arr(f)]
    if kernel in ("softmax_cross_entropy", "mse_loss"):
        n, c = dim(1), dim(1)
        return [arr(n, c), arr(n, dtype="int64", fill=f"labels:{c}"), arr(n, c)]
    if kernel == "sigmoid_binary_cross_entropy":
        n = dim(1)
        return [arr(n, 1), arr(n, dtype="int64", fill="labels:2"), arr(n, 1)]
    if kernel in ("adam_step", "adamw_step"):
        n = dim()
        return [arr(n), arr(n), arr(n), arr(n, fill="positive"), val(1e-3), val(0.9),
                val(0.999), val(1e-8), val(dim(1)), val(0.01)]
    if kernel == "sgd_step":
        n = dim()
        return [arr(n), arr(n), arr(n), val(0.1), val(0.9), val(d(st.booleans())), val(0.0)]
    if kernel == "rmsprop_step":
        n = dim()
        return [arr(n), arr(n), arr(n, fill="positive"), arr(n), val(0.01), val(0.99),
                val(1e-8), val(0.9), val(0.0)]
    if kernel == "activation_forward":
        n, f = dim(), dim()
        return [val(act), arr(n, f), arr(n, f)]
    if kernel == "dropout":
        n, f = dim(), dim()
        return [arr(n, f), arr(n, f, fill="uniform"), val(0.3), arr(n, f)]
    if kernel == "batch_norm_forward":
        n, f = dim(2), dim(1)
        return [arr(n, f), arr(f), arr(f), arr(n, f), arr(f), arr(f), arr(f),
                arr(f, fill="positive"), val(0.1), val(1e-5)]
    if kernel == "batch_norm_inference":
        n, f = dim(), dim(1)
        return [arr(n, f), arr(f), arr(f), arr(f), arr(f, fill="positive"), arr(n, f),
                val(1e-5)]
    if kernel == "batch_norm_backward":
        n, f = dim(2), dim(1)
        return [arr(n, f), arr(n, f), arr(f), arr(f), arr(f, fill="positive"), arr(n, f),
                arr(f), arr(f)]
    sizes = [dim(1) for _ in range(d(st.integers(2, 3)))]
    if kernel == "forward_backward":
        n = dim(1)
        return ([arr(n, sizes[0]), arr(n, dtype="int64", fill=f"labels:{sizes[-1]}")]
                + _network(sizes, n, False) + [val(act)])
    # adam_train_steps, with the binding's argument list (see flat_calls)
    rows, batch = dim(1), dim(1)
    steps = -(-rows // batch)
    count = sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:]))
    lists = _network(sizes, batch, True)
    return ([arr(rows, sizes[0]), arr(rows, dtype="int64", fill=f"labels:{sizes[-1]}"),
             arr(rows, dtype="int64", fill=f"perm:{rows}"), val(0), val(batch), val(steps),
             arr(batch, sizes[0]), arr(batch, dtype="int64")] + lists
            + [val(act), {"t": "flat", "count": count, "grads": False},
               {"t": "flat", "count": count, "grads": True}, arr(count), arr(count),
               val(1e-3), val(0.9), val(0.999), val(1e-8), val(0), val(0.0),
               arr(steps, dtype="float64")])


KERNELS = ["gemm", "dense_forward", "activation_backward", "bias_grad", "softmax_cross_entropy",
           "adam_step", "forward_backward", "adam_train_steps", "activation_forward",
           "mse_loss", "sigmoid_binary_cross_entropy", "dropout", "batch_norm_forward",
           "batch_norm_inference", "batch_norm_backward", "sgd_step", "rmsprop_step",
           "adamw_step"]

# -- mutations ------------------------------------------------------------------------
BAD_VALUES = ["nan", "inf", "-inf", -1.0, 0.0, 1e33, -1, 2**62, 2**63, -(2**63), 10**30,
              "0.1", None, True, [1.0], "relu", "RELU"]
LAYOUTS = ["fortran", "strided", "misaligned", "matrix", "masked", "zero_d", "readonly",
           "swapped", "as_list"]
DTYPES = ["float64", "float32", "float16", "int64", "int32", "bool", "complex64", "object"]


def _arrays(args):
    """Paths (index, item or None) of the array descriptions among args."""
    paths = []
    for i, a in enumerate(args):
        if a["t"] == "arr":
            paths.append((i, None))
        elif a["t"] == "list":
            paths += [(i, j) for j in range(len(a["items"]))]
    return paths


def mutate(args, d):
    kind = d(st.sampled_from(["layout", "dtype", "shape", "value", "same", "overlap", "labels",
                              "replace", "list_length"]))
    paths = _arrays(args)
    if kind == "value" or not paths:
        i = d(st.integers(0, len(args) - 1))
        args[i] = val(d(st.sampled_from(BAD_VALUES)))
        return
    i, j = d(st.sampled_from(paths))
    target = args[i] if j is None else args[i]["items"][j]
    if kind == "layout":
        target["layout"] = d(st.sampled_from(LAYOUTS))
    elif kind == "dtype":
        target["dtype"] = d(st.sampled_from(DTYPES))
    elif kind == "shape":
        shape = target["shape"]
        how = d(st.sampled_from(["grow", "shrink", "zero", "huge", "add_dim", "drop_dim"]))
        k = d(st.integers(0, max(len(shape) - 1, 0)))
        if how == "add_dim" or not shape:
            shape.insert(k, d(st.integers(0, 3)))
        elif how == "drop_dim":
            shape.pop(k)
        elif how == "huge":  # zero bytes: another dimension is 0
            shape[k] = HUGE
            if len(shape) > 1:
                shape[(k + 1) % len(shape)] = 0
            else:
                shape[k] = 0
        else:
            shape[k] = {"grow": shape[k] + 1, "shrink": max(shape[k] - 1, 0), "zero": 0}[how]
    elif kind == "labels":
        if target["dtype"] == "int64":
            target["fill"] = d(st.sampled_from(["labels:1000000", "normal"]))
    elif kind in ("same", "overlap") and j is None:
        sources = [k for k, _ in paths if k < i and args[k]["t"] == "arr"]
        if sources:
            args[i] = {"t": kind, "i": d(st.sampled_from(sources))}
    elif kind == "replace":
        replacement = val(d(st.sampled_from([None, 1.0, "x", [0.0, 1.0]])))
        if j is None:
            args[i] = replacement
        else:
            args[i]["items"][j] = {"t": "arr", "shape": [], "dtype": "object", "fill": "normal",
                                   "layout": "as_list"}
    elif kind == "list_length" and j is not None:
        items = args[i]["items"]
        if d(st.booleans()) and len(items) > 1:
            items.pop()
        else:
            items.append(dict(items[-1]))


@st.composite
def cases(draw):
    kernel = draw(st.sampled_from(KERNELS))
    args = valid_call(kernel, draw)
    for _ in range(draw(st.integers(0, 3))):
        mutate(args, draw)
    return {"kernel": kernel, "args": args, "seed": draw(st.integers(0, 2**31))}


# -- the workers ----------------------------------------------------------------------
class Worker:
    """One target's worker process; answers a batch of cases per request."""

    def __init__(self, target, isa):
        env = dict(os.environ)
        if isa:
            env["FASTMLP_ISA"] = isa
        self.name = target
        self.stderr = tempfile.TemporaryFile("w+")  # a file: a pipe could fill and block it
        self.proc = subprocess.Popen([sys.executable, str(WORKER), target], cwd=WORKER.parent,
                                     env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True)

    def wait_ready(self):
        self._expect_line(TIMEOUT)

    def _expect_line(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.proc.kill()
            raise AssertionError(f"{self.name}: no answer within {timeout} s (hang)\n"
                                 f"{self._stderr()}")
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            raise AssertionError(f"{self.name}: worker died with exit code {code}\n"
                                 f"{self._stderr()}")
        return line

    def _stderr(self):
        self.stderr.seek(0)
        return self.stderr.read()[-4000:]

    def run(self, batch):
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name}: worker had died (exit code "
                                 f"{self.proc.returncode}) in an earlier batch")
        try:
            self.proc.stdin.write(json.dumps(batch) + "\n")
            self.proc.stdin.flush()
        except OSError:  # died on this batch before reading all of it: say how
            pass
        return json.loads(self._expect_line(TIMEOUT))

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="module")
def workers():
    started = []
    try:
        for tid, target, isa, strict in _targets():
            started.append((tid, strict, Worker(target, isa)))
        for _, _, w in started:  # they start side by side
            w.wait_ready()
        yield started
    finally:
        for _, _, w in started:
            w.close()


def _describe(case):
    return json.dumps(case)[:1500]


@pytest.fixture(autouse=True)
def _short_reprs(monkeypatch):
    # hypothesis prints the whole failing batch; the assertion already names each case
    monkeypatch.setattr(Worker, "__repr__", lambda self: f"<worker {self.name}>",
                        raising=False)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(batch=st.lists(cases(), min_size=BATCH, max_size=BATCH))
def test_malformed_calls_are_refused_alike_and_never_crash(workers, batch):
    outcomes = {}
    for tid, strict, worker in workers:
        try:
            outcomes[tid] = worker.run(batch)
        except AssertionError as e:
            pytest.fail(f"{e}\nin one of these cases:\n" +
                        "\n".join(_describe(c) for c in batch))
    problems = []
    for k, case in enumerate(batch):
        for tid, result in outcomes.items():
            if result[k] != "ok" and not result[k][1]:
                problems.append(f"{tid}: undocumented {result[k][0]}: {result[k][2]}\n"
                                f"  {_describe(case)}")
        accepted = {tid: outcomes[tid][k] for tid, strict, _ in workers if strict}
        if len({a == "ok" for a in accepted.values()}) > 1:
            problems.append(f"backends disagree: {accepted}\n  {_describe(case)}")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:12])
