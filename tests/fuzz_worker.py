"""The fuzz test's worker (tests/test_fuzz.py): builds each case's arguments from its
description and calls one kernel with them, in a process of its own so that a crash or a
hang ends only this process. Usage: python fuzz_worker.py TARGET, where TARGET is a
backend name or "_cpp" (the extension's functions called directly); the cpp ISA comes
from FASTMLP_ISA. Reads one JSON list of cases per line from stdin, writes one JSON
list of outcomes per line: "ok", or [exception type name, documented?, message]."""
from __future__ import annotations

import json
import math
import sys
import warnings

import numpy as np

import flat_calls
from fastmlp.backends import NetworkState

warnings.simplefilter("ignore")  # np.matrix's PendingDeprecationWarning, overflow warnings

MAX_BYTES = 1 << 24  # larger arrays are made empty (spec-determined: same on every target)


def _fill(shape, dtype, fill, rng):
    if fill.startswith("labels:"):
        return rng.integers(0, max(int(fill[7:]), 1), shape).astype(dtype, copy=False)
    if fill.startswith("perm:"):
        return (rng.permutation(max(int(fill[5:]), 1))[:int(np.prod(shape))] if shape else
                np.int64(0)).reshape(shape).astype(dtype, copy=False)
    if fill == "positive":
        return (rng.random(shape) + 0.5).astype(dtype)
    if fill == "uniform":
        return rng.random(shape).astype(dtype)
    values = rng.standard_normal(shape)
    if fill == "nan" and values.size:
        values.reshape(-1)[0] = np.nan
    return values.astype(dtype)


class Builder:
    """Arguments from their descriptions; keeps each array's base, for overlapping views."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.built = []  # arguments in order, for "same" and "overlap"
        self.bases = {}  # argument index: (buffer, shape) of the array built for it

    def arg(self, spec):
        kind = spec["t"]
        if kind == "val":
            v = spec["v"]
            return float(v) if isinstance(v, str) and v in ("nan", "inf", "-inf") else v
        if kind == "list":
            return [self.array(s) for s in spec["items"]]
        if kind == "same":
            return self.built[spec["i"]]
        if kind == "flat":
            return self.flat(spec)
        return self.array(spec)

    def flat(self, spec):
        """adam_train_steps' params (or param_grads): one float32 vector that the layers'
        weights and biases (or their gradients), arguments 8 and 9 (10 and 11), are made
        views of, where they are float32 C-contiguous arrays that still fit."""
        flat = np.zeros(spec["count"], np.float32)
        self.bases.setdefault(len(self.built), (flat, flat.shape))
        first = 10 if spec["grads"] else 8
        lists = self.built[first:first + 2]
        if not all(isinstance(seq, list) for seq in lists):
            return flat
        offset = 0
        for i in range(max(len(seq) for seq in lists)):
            for seq in lists:
                a = seq[i] if i < len(seq) else None
                if (type(a) is np.ndarray and a.dtype == np.float32 and a.flags.c_contiguous
                        and offset + a.size <= flat.size):
                    view = flat[offset:offset + a.size].reshape(a.shape)
                    view[...] = a
                    seq[i] = view
                    offset += a.size
        return flat

    def array(self, spec):
        if spec["t"] == "overlap":  # the same buffer as argument i, one element further on
            if spec["i"] not in self.bases:  # its source was mutated into a non-array
                return None
            base, shape = self.bases[spec["i"]]
            size = int(np.prod(shape))
            arr = base[1:size + 1].reshape(shape) if base.size > size else base[:size].reshape(shape)
            self.bases.setdefault(len(self.built), (base, shape))
            return arr
        shape, dtype = tuple(spec["shape"]), np.dtype(spec["dtype"])
        if int(np.prod(shape)) * dtype.itemsize > MAX_BYTES:
            shape = tuple(0 if i == 0 else d for i, d in enumerate(shape)) or (0,)
            shape = tuple(min(d, 1 << 20) if i else d for i, d in enumerate(shape))
        size = int(np.prod(shape))
        base = np.empty(size + 1, dtype)
        base[:size] = _fill(size, dtype, spec.get("fill", "normal"), self.rng)
        arr = base[:size].reshape(shape)
        self.bases.setdefault(len(self.built), (base, shape))
        layout = spec.get("layout", "c")
        if layout == "fortran" and arr.ndim >= 2:
            arr = np.asfortranarray(arr)
        elif layout == "strided":
            wide = np.repeat(arr[..., None], 2, axis=-1) if arr.ndim else arr
            arr = wide[..., 0]
        elif layout == "misaligned":
            raw = np.zeros(arr.nbytes + 1, np.uint8)
            view = np.frombuffer(raw, dtype, count=size, offset=1).reshape(shape)
            view.flags.writeable = True
            view[...] = arr
            arr = view
        elif layout == "matrix" and arr.ndim == 2:
            arr = np.asmatrix(arr)
        elif layout in ("masked", "matrix"):
            arr = np.ma.masked_array(arr, mask=np.zeros(shape, bool))
        elif layout == "zero_d":
            arr = np.array(arr.reshape(-1)[0] if size else 0, dtype)
        elif layout == "readonly":
            arr.flags.writeable = False
        elif layout == "swapped" and dtype.itemsize > 1:
            arr = arr.astype(dtype.newbyteorder())
        elif layout == "as_list":
            arr = arr.tolist()
        return arr


def run_case(case, target):
    """Outcome of one case: "ok" or [type name, documented?, message]."""
    builder = Builder(case["seed"])
    try:
        args = []
        for spec in case["args"]:
            value = builder.arg(spec)
            builder.built.append(value)
            args.append(value)
    except Exception as e:  # noqa: BLE001 - a description numpy cannot build: same everywhere
        return ["setup", True, f"{type(e).__name__}: {e}"[:200]]
    kernel = case["kernel"]
    try:
        if kernel == "forward_backward":  # flat_calls' batch size is x's rows: x may be no array
            x, labels, *network, activation = args
            rows = x.shape[0] if isinstance(x, np.ndarray) and x.ndim else 1
            if target == "_cpp":
                from fastmlp import _cpp
                _cpp.forward_backward(_cpp.Network(*network, activation, rows), x, labels)
            else:
                BACKEND.forward_backward(x, labels, NetworkState(*network, activation, rows))
        elif kernel == "adam_train_steps":
            if target == "_cpp":
                flat_calls.binding_adam_train_steps(*args)
            else:
                flat_calls.adam_train_steps(BACKEND, *args)
        elif target == "_cpp":
            from fastmlp import _cpp
            getattr(_cpp, kernel)(*args)
        else:
            getattr(BACKEND, kernel)(*args)
    except (ValueError, TypeError) as e:
        return [type(e).__name__, True, str(e)[:200]]
    except Exception as e:  # noqa: BLE001 - reported, and fails the test
        return [type(e).__name__, False, str(e)[:200]]
    return "ok"


if __name__ == "__main__":
    TARGET = sys.argv[1]
    if TARGET == "_cpp":
        BACKEND = None
    else:
        from fastmlp.backends import get_backend
        BACKEND = get_backend(TARGET)
    print("ready", flush=True)
    for line in sys.stdin:
        cases = json.loads(line)
        print(json.dumps([run_case(c, TARGET) for c in cases]), flush=True)
