"""One training epoch (60,000 MNIST samples by default) per backend, and in PyTorch."""
from __future__ import annotations

import pytest

from fastmlp import backends
from fastmlp.bench.cases import WORKLOADS
from fastmlp.bench.epoch import FastmlpEpoch, TorchEpoch, epoch_data
from fastmlp.bench.references import PYTORCH
from conftest import workloads


def pytest_generate_tests(metafunc):
    if "workload" in metafunc.fixturenames:
        metafunc.parametrize("workload", workloads(metafunc.config))
    if "backend_name" in metafunc.fixturenames:
        metafunc.parametrize("backend_name", backends.backend_names())


def _run(benchmark, request, bench_threads, workload, name, trainer):
    w = WORKLOADS[workload]
    x, y, source = epoch_data(w, request.config.getoption("--bench-epoch-samples"))
    benchmark.group = f"{bench_threads}thr {workload} epoch"
    benchmark.name = name
    benchmark.extra_info.update(workload=workload, samples=int(x.shape[0]), data=source,
                                flops=w.step_flops(x.shape[0]), threads=bench_threads)
    warm = 3 * w.batch
    trainer(x[:warm], y[:warm])  # compile, allocate workspaces: not part of the epoch
    benchmark.pedantic(trainer, args=(x, y), iterations=1,
                       rounds=request.config.getoption("--bench-epoch-rounds"))


def test_epoch(benchmark, request, bench_threads, workload, backend_name):
    error = backends.load_error(backend_name)
    if error:
        pytest.skip(error)
    _run(benchmark, request, bench_threads, workload, backend_name,
         FastmlpEpoch(backend_name, WORKLOADS[workload]))


def test_torch_epoch(benchmark, request, bench_threads, workload, torch):
    _run(benchmark, request, bench_threads, workload, PYTORCH, TorchEpoch(WORKLOADS[workload]))
