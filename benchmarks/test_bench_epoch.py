"""One training epoch (60,000 MNIST samples by default) per backend, and in PyTorch.

fastmlp contenders: every backend in float32 (id: the backend's name) and the cpp backend
with matmul precision bfloat16 (id "cpp-bfloat16": both GEMM operands rounded to bfloat16,
float32 accumulation; the backend's precision is restored after the benchmark). PyTorch
contenders (test_torch_epoch, ids of fastmlp.bench.epoch.TORCH_VARIANTS, the rows of
../shared/ANCHORS.md): "default_adam" (eager, torch.optim.Adam defaults), "fused_ftz"
(Adam(fused=True), torch.set_flush_denormal(True)) and "bf16_autocast" (the same with the
forward pass and loss under bfloat16 autocast); torch's flush-denormal state is restored
after the benchmark.
"""
from __future__ import annotations

import warnings

import pytest

from fastmlp import backends
from fastmlp.bench.cases import WORKLOADS
from fastmlp.bench.epoch import TORCH_VARIANTS, FastmlpEpoch, TorchEpoch, epoch_data
from conftest import workloads

# fastmlp contenders besides every backend in float32: (backend, matmul precision)
BF16_CONTENDERS = [("cpp", "bfloat16")]


def pytest_generate_tests(metafunc):
    if "workload" in metafunc.fixturenames:
        metafunc.parametrize("workload", workloads(metafunc.config))
    if "backend_name" in metafunc.fixturenames:
        contenders = [(name, None) for name in backends.backend_names()] + BF16_CONTENDERS
        metafunc.parametrize("backend_name,precision", contenders,
                             ids=[n if p is None else f"{n}-{p}" for n, p in contenders])
    if "torch_variant" in metafunc.fixturenames:
        metafunc.parametrize("torch_variant", list(TORCH_VARIANTS))


def _run(benchmark, request, bench_threads, workload, name, trainer, **info):
    w = WORKLOADS[workload]
    x, y, source = epoch_data(w, request.config.getoption("--bench-epoch-samples"))
    benchmark.group = f"{bench_threads}thr {workload} epoch"
    benchmark.name = name
    benchmark.extra_info.update(workload=workload, samples=int(x.shape[0]), data=source,
                                flops=w.step_flops(x.shape[0]), threads=bench_threads, **info)
    warm = 3 * w.batch
    with trainer.session():  # its settings switched once, outside the timed calls
        trainer(x[:warm], y[:warm])  # compile, allocate workspaces: not part of the epoch
        benchmark.pedantic(trainer, args=(x, y), iterations=1,
                           rounds=request.config.getoption("--bench-epoch-rounds"))


def test_epoch(benchmark, request, bench_threads, workload, backend_name, precision):
    error = backends.load_error(backend_name)
    if error:
        pytest.skip(error)
    backend = backends.get_backend(backend_name)
    info = {"matmul_precision": precision or backend.matmul_precision}
    if precision is not None:
        if precision not in backend.matmul_precisions:
            pytest.skip(f"backend {backend_name!r} does not offer matmul precision {precision} "
                        f"(it offers {', '.join(backend.matmul_precisions)})")
        if backend_name == "cpp":
            from fastmlp import _cpp
            info["bf16_matmul_engine"] = _cpp.bf16_matmul_engine()
    name = backend_name if precision is None else f"{backend_name} {precision}"
    _run(benchmark, request, bench_threads, workload, name,
         FastmlpEpoch(backend_name, WORKLOADS[workload], matmul_precision=precision), **info)


def test_torch_epoch(benchmark, request, bench_threads, workload, torch, torch_variant):
    trainer = TorchEpoch(WORKLOADS[workload], **TORCH_VARIANTS[torch_variant])
    _run(benchmark, request, bench_threads, workload, trainer.label, trainer,
         torch_variant=torch_variant, **TORCH_VARIANTS[torch_variant])
    if trainer.flush_denormals:
        benchmark.extra_info["flushed_all_threads"] = trainer.flushed_all_threads
        if not trainer.flushed_all_threads:
            warnings.warn(f"{trainer.label}: torch.set_flush_denormal(True) did not reach "
                          "every thread of torch's intra-op pool (flushed_all_threads=False "
                          "in the results); a script that calls it first gets it everywhere")
