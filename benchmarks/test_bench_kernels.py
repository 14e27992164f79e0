"""Every interface kernel (base.KERNELS) on every backend, and the GEMMs in NumPy and PyTorch."""
from __future__ import annotations

import functools

import pytest

from fastmlp import backends
from fastmlp.bench.cases import WORKLOADS, kernel_cases
from fastmlp.bench.references import NUMPY_MATMUL, PYTORCH, numpy_matmul, torch_matmul
from conftest import workloads


@functools.lru_cache(maxsize=None)
def _cases(workload_name):
    return kernel_cases(WORKLOADS[workload_name])


def _case_params(config, gemm_only=False):
    params = []
    for wname in workloads(config):
        cases, missing = _cases(wname)
        for kernel in [] if gemm_only else missing:  # a new kernel without inputs: a skip
            params.append(pytest.param(wname, None, id=f"{wname}-{kernel}", marks=pytest.mark.skip(
                reason=f"no input generator for kernel {kernel!r} in fastmlp.bench.cases.BUILDERS")))
        params += [pytest.param(wname, c, id=f"{wname}-{c.id}".replace(" ", ""))
                   for c in cases if c.gemm is not None or not gemm_only]
    return params


def pytest_generate_tests(metafunc):
    if "case" in metafunc.fixturenames:
        gemm_only = metafunc.function.__name__ != "test_kernel"
        metafunc.parametrize("workload,case", _case_params(metafunc.config, gemm_only))
    if "backend_name" in metafunc.fixturenames:
        metafunc.parametrize("backend_name", backends.backend_names())


def _record(benchmark, case, threads, workload, impl):
    benchmark.group = f"{threads}thr {workload} {case.id}"
    benchmark.name = impl
    benchmark.extra_info.update(kernel=case.kernel, case=case.name, workload=workload,
                                flops=case.flops, bytes=case.nbytes, threads=threads,
                                memory_bound=case.memory_bound, intensity=case.intensity)


def test_kernel(benchmark, bench_threads, workload, case, backend_name):
    error = backends.load_error(backend_name)
    if error:
        pytest.skip(error)
    backend = backends.get_backend(backend_name)
    native = backend_name == "numpy" or case.kernel in backend.native_kernels()
    _record(benchmark, case, bench_threads, workload, backend_name)
    benchmark.extra_info["native"] = native  # False: the base class's NumPy version runs
    case.call(backend)  # warm-up outside the timing: JIT compilation, first-touch pages
    benchmark(case.call, backend)


def test_numpy_matmul(benchmark, bench_threads, workload, case):
    _record(benchmark, case, bench_threads, workload, NUMPY_MATMUL)
    run = numpy_matmul(case)
    run()
    benchmark(run)


def test_torch_matmul(benchmark, bench_threads, workload, case, torch):
    _record(benchmark, case, bench_threads, workload, PYTORCH)
    run = torch_matmul(case, torch)
    run()
    benchmark(run)
