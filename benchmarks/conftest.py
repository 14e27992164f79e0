"""pytest-benchmark suite: every kernel x every backend at the shapes of real training
steps, NumPy's matmul and PyTorch on the same GEMMs, and a training epoch per backend.

    pytest benchmarks/ --benchmark-only                        # both workloads, all CPUs
    pytest benchmarks/ --benchmark-only --bench-threads 1      # single-threaded
    pytest benchmarks/ --benchmark-disable --bench-workloads small --bench-epoch-samples 640

Inputs come from fastmlp.bench.cases (the same ones `fastmlp bench` uses). Benchmarks are
grouped by thread count, workload and kernel call, so each group's table is the side-by-
side comparison of the contenders.
"""
from __future__ import annotations

import pytest

from fastmlp.bench import machine
from fastmlp.bench.cases import MNIST_TRAIN_SAMPLES, WORKLOADS
from fastmlp.bench.report import machine_lines
from fastmlp.bench.worker import set_threads


def pytest_configure(config):
    # OpenBLAS tuning variables would slow the NumPy side of every comparison: restart
    # pytest without them (a no-op when they are not set). Capturing is stopped first so
    # the new process writes to the terminal, not to this one's capture files.
    if machine.blas_overrides():
        capture = config.pluginmanager.getplugin("capturemanager")
        if capture is not None:
            capture.stop_global_capturing()
        machine.reexec_without_blas_overrides()


def pytest_addoption(parser):
    g = parser.getgroup("fastmlp benchmarks")
    g.addoption("--bench-workloads", default=",".join(WORKLOADS),
                help=f"comma-separated workloads of fastmlp.bench.cases.WORKLOADS "
                     f"(default: {','.join(WORKLOADS)})")
    g.addoption("--bench-threads", type=int, default=None,
                help="threads for every contender (default: the CPUs available)")
    g.addoption("--bench-epoch-samples", type=int, default=MNIST_TRAIN_SAMPLES,
                help="samples per timed epoch (default: a full MNIST epoch)")
    g.addoption("--bench-epoch-rounds", type=int, default=3,
                help="timed epochs per contender (default 3)")


def workloads(config):
    names = [n.strip() for n in config.getoption("--bench-workloads").split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise pytest.UsageError(f"unknown workload(s) {unknown}; known: {', '.join(WORKLOADS)}")
    return names


def threads(config):
    return config.getoption("--bench-threads") or machine.cpu_count()


def pytest_report_header(config):
    return machine_lines(machine.machine_info(), machine.peak_table([threads(config)]))


def pytest_benchmark_update_machine_info(config, machine_info):
    # saved with --benchmark-json / --benchmark-autosave, next to pytest-benchmark's own:
    # CPU model, ISA path, cache sizes, the thread count and the probe's peaks
    n = threads(config)
    machine_info["fastmlp"] = machine.machine_info()
    machine_info["fastmlp"]["threads"] = n
    machine_info["fastmlp"]["fma_peak_gflops"] = machine.peak_table([n])
    memory = 4 * max(machine.cache_sizes().values(), default=1 << 23)  # well past the last cache
    machine_info["fastmlp"]["triad_gbps"] = {"working_set_bytes": memory,
                                             "gbps": machine.bandwidth(memory, n)}


@pytest.fixture(scope="session")
def torch():
    module = machine.torch_module()
    if module is None:
        pytest.skip("PyTorch is not installed (pip install torch): PyTorch comparisons skipped")
    return module


@pytest.fixture(scope="session", autouse=True)
def bench_threads(request):
    """The same thread count for every backend, NumPy's BLAS and PyTorch."""
    n = threads(request.config)
    set_threads(n, machine.torch_module())
    return n
