"""Labels and minibatch order rewritten by another Python thread while a kernel runs.

The checks range-check labels and `order` while the GIL is held; a compiled kernel then
runs without it. A second thread that flips them between good and out-of-range values
must never make a kernel index memory with an unchecked value: each call either returns
or raises ValueError (from the check, or from the kernel that met the rewritten value).
Each backend runs in a subprocess, so a crash fails the test instead of killing pytest.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from fastmlp import backends

SCRIPT = textwrap.dedent("""
    import sys, threading, time
    import numpy as np
    import fastmlp
    from fastmlp.backends import NetworkState, get_backend

    name, seconds = sys.argv[1], float(sys.argv[2])
    be = get_backend(name)
    sys.setswitchinterval(1e-5)
    rng = np.random.default_rng(0)
    rows, batch, sizes = 512, 64, (20, 16, 10)
    x = rng.random((rows, sizes[0]), dtype=np.float32)
    model = fastmlp.MLP(sizes, seed=1, backend="numpy")

    def state(n, train=False):
        extra = dict(params=model.params, param_grads=model.grads,
                     m=np.zeros_like(model.params), v=np.zeros_like(model.params),
                     xb=np.empty((n, sizes[0]), np.float32), yb=np.empty(n, np.int64)) if train else {}
        return NetworkState(model.weights, model.biases, model.weight_grads, model.bias_grads,
                            [np.empty((n, f), np.float32) for f in sizes[1:]],
                            [np.empty((n, f), np.float32) for f in sizes[1:]], "relu", n, **extra)

    def flipping(target, bad):
        good = target.copy()
        stop = threading.Event()
        def run():
            while not stop.is_set():
                np.copyto(target, bad)
                np.copyto(target, good)
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return stop, thread

    def race(what, target, bad, call):
        call()  # compiled (numba) before the clock starts
        stop, thread = flipping(target, bad)
        calls = refused = in_kernel = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            calls += 1
            try:
                call()
            except ValueError as e:
                refused += 1
                in_kernel += "changed while the kernel ran" in str(e)
        stop.set()
        thread.join()
        print(f"{name} {what}: {calls} calls, {refused} refused, {in_kernel} in the kernel")

    logits = rng.random((rows, 10), dtype=np.float32)
    grad = np.empty_like(logits)
    labels = rng.integers(0, 10, rows)
    order = rng.permutation(rows)
    big = np.int64(1) << 40
    losses = np.empty(rows // batch)
    train = state(batch, train=True)
    whole = state(rows)
    race("softmax_cross_entropy labels", labels, big,
         lambda: be.softmax_cross_entropy(logits, labels, grad))
    race("forward_backward labels", labels, -big, lambda: be.forward_backward(x, labels, whole))
    adam = lambda: be.adam_train_steps(x, labels, order, 0, rows // batch, train, 1e-3, 0.9,
                                       0.999, 1e-8, 0, 0.0, losses)
    race("adam_train_steps labels", labels, big, adam)
    race("adam_train_steps order", order, big, adam)
    if name == "cpp":  # the binding's own checks, without the Python layer's
        from fastmlp import _cpp
        race("_cpp.softmax_cross_entropy labels", labels, big,
             lambda: _cpp.softmax_cross_entropy(logits, labels, grad))
        def network(s):
            return _cpp.Network(s.weights, s.biases, s.weight_grads, s.bias_grads, s.acts,
                                s.grads, s.activation, s.batch_size, params=s.params,
                                param_grads=s.param_grads, m=s.m, v=s.v, xb=s.xb, yb=s.yb)
        whole_net, train_net = network(whole), network(train)
        race("_cpp.forward_backward labels", labels, big,
             lambda: _cpp.forward_backward(whole_net, x, labels))
        race("_cpp.adam_train_steps order", order, -big, lambda: _cpp.adam_train_steps(
            train_net, x, labels, order, 0, rows // batch, 1e-3, 0.9, 0.999, 1e-8, 0, 0.0,
            losses))
    print("done")
""")


@pytest.mark.parametrize("name", ["cpp", "numba"])
def test_indices_rewritten_during_a_kernel_never_crash(name):
    if not backends.available_backends().get(name):
        pytest.skip(f"{name} backend not available")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, name, "0.6"], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, FASTMLP_NUM_THREADS="2"))
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    assert proc.stdout.rstrip().endswith("done"), proc.stdout
