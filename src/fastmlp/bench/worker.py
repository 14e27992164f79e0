"""One contender of `fastmlp bench`, measured alone in its own process.

    python -m fastmlp.bench.worker '<job as JSON>'

A job is one contender (a fastmlp backend, NumPy's matmul or PyTorch) at one thread
count, timing either every kernel case it runs or training epochs. The process sets its
threads, builds the same inputs as every other contender (same seed), times them and
prints one JSON object on its last line of stdout: no other contender's thread pool or
caches share the process, and the parent alternates contenders round by round.
"""
from __future__ import annotations

import json
import os
import sys

from .. import backends
from .cases import MNIST_TRAIN_SAMPLES, Workload, kernel_cases
from .epoch import FastmlpEpoch, TorchEpoch, backend_matmul_precision, epoch_data
from .machine import blas_overrides, torch_module
from .references import NUMPY_MATMUL, gemm_references
from .timing import timed_samples


def job(kind, impl, threads, workload, *, matmul_precision="float32", kernels=None,
        repeats=5, epoch_steps=50, epoch_repeats=3, torch_options=None, seed=0):
    """A job description (plain data) for run_job. kind is "kernels" or "epoch"; impl is
    a backend name, or a reference name (kernels) / PyTorch trainer label (epoch, with its
    TorchEpoch options in torch_options)."""
    return {"kind": kind, "impl": impl, "threads": threads,
            "workload": {"sizes": list(workload.sizes), "batch": workload.batch,
                         "activation": workload.activation},
            "matmul_precision": matmul_precision, "kernels": kernels, "repeats": repeats,
            "epoch_steps": epoch_steps, "epoch_repeats": epoch_repeats,
            "torch_options": torch_options, "seed": seed}


def set_threads(n, torch=None):
    """The same thread count for every contender in this process: fastmlp's backends,
    NumPy's BLAS (through threadpoolctl), PyTorch."""
    backends.set_num_threads(n)
    backends.Backend.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)


def _kernel_rows(spec, workload, torch):
    impl, precision = spec["impl"], spec["matmul_precision"]
    cases, _ = kernel_cases(workload, spec["kernels"], seed=spec["seed"])
    rows = []
    if impl in backends.backend_names():
        be = backends.get_backend(impl)
        native = set(be.native_kernels())
        with backend_matmul_precision(be, precision):
            for case in cases:
                samples = timed_samples(lambda: case.call(be), repeats=spec["repeats"])
                rows.append({"kernel": case.kernel, "case": case.name, "samples": samples,
                             "native": impl == "numpy" or case.kernel in native,
                             "precision": be.matmul_precision})
        return rows
    for case in cases:  # a reference: GEMM cases only
        fn = dict(gemm_references(case, torch, precision)).get(impl)
        if fn is not None:
            rows.append({"kernel": case.kernel, "case": case.name, "native": True,
                         "samples": timed_samples(fn, repeats=spec["repeats"]),
                         "precision": "float32" if impl == NUMPY_MATMUL else precision})
    return rows


def _epoch_row(spec, workload, torch):
    impl = spec["impl"]
    x, y, source = epoch_data(workload, spec["epoch_steps"] * workload.batch, spec["seed"])
    if spec["torch_options"] is not None:
        trainer = TorchEpoch(workload, spec["seed"], **spec["torch_options"])
        precision = "bfloat16" if spec["torch_options"].get("autocast") else "float32"
    else:
        trainer = FastmlpEpoch(impl, workload, spec["seed"], matmul_precision=spec["matmul_precision"])
        precision = spec["matmul_precision"]
    warm = 3 * workload.batch
    with trainer.session():
        trainer(x[:warm], y[:warm])  # compile, allocate workspaces, fault in pages
        samples = [trainer(x, y) * MNIST_TRAIN_SAMPLES / x.shape[0]
                   for _ in range(spec["epoch_repeats"])]
    return {"samples": samples, "precision": precision, "timed_samples": int(x.shape[0]),
            "data": source}


def run_job(spec):
    """Runs a job (see job()) in this process: {"kernels": [rows]} or {"epoch": row},
    with the process id and the BLAS_OVERRIDES it saw ("pid", "blas_env"); each row's
    "samples" are seconds per call (kernels) or per 60,000-sample epoch."""
    torch = torch_module() if spec["impl"].startswith("PyTorch") else None
    set_threads(spec["threads"], torch)
    workload = Workload(tuple(spec["workload"]["sizes"]), spec["workload"]["batch"],
                        spec["workload"]["activation"])
    process = {"pid": os.getpid(), "blas_env": blas_overrides()}
    if spec["kind"] == "kernels":
        return {"kernels": _kernel_rows(spec, workload, torch), **process}
    return {"epoch": _epoch_row(spec, workload, torch), **process}


if __name__ == "__main__":
    result = run_job(json.loads(sys.argv[1]))
    sys.stdout.write("\n" + json.dumps(result) + "\n")
