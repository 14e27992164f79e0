"""Time to accuracy: launch to the first epoch at 98.0% test accuracy, each run in its own
process (fastmlp.bench.time_to_accuracy), fastmlp's default and fast recipes and PyTorch's
with the same recipes when it is installed.

    pytest benchmarks/test_bench_time_to_accuracy.py --benchmark-only --bench-threads 2

The benchmark's time is the whole process's to the target (the child is stopped there);
extra_info has the epoch reached, the accuracies per epoch and whether the target was
reached. With --bench-epoch-samples below a full epoch it trains on that many MNIST
samples for 1 epoch (a smoke run: the target is then rarely reached and the
numbers mean nothing).
"""
from __future__ import annotations

import pytest

from fastmlp.bench import machine, time_to_accuracy
from fastmlp.bench.cases import MNIST_TRAIN_SAMPLES
from fastmlp.recipes import RECIPES


@pytest.mark.parametrize("recipe", list(RECIPES))
@pytest.mark.parametrize("contender", time_to_accuracy.CONTENDERS)
def test_time_to_accuracy(benchmark, request, bench_threads, contender, recipe):
    if contender == "torch" and machine.torch_module() is None:
        pytest.skip("PyTorch is not installed (pip install torch): PyTorch comparisons skipped")
    samples = request.config.getoption("--bench-epoch-samples")
    smoke = samples < MNIST_TRAIN_SAMPLES
    results = []

    def run():
        results.append(time_to_accuracy.measure(
            contender, recipe, seed=0, threads=bench_threads,
            train_samples=samples if smoke else None,
            max_epochs=1 if smoke else time_to_accuracy.MAX_EPOCHS))

    benchmark.group = f"{bench_threads}thr time to {time_to_accuracy.TARGET:.1%}"
    benchmark.name = f"{contender} {recipe}"
    benchmark.pedantic(run, iterations=1, rounds=1)
    r = results[-1]
    benchmark.extra_info.update(threads=bench_threads, cpu=machine.cpu_model(),
                                epoch=r["epoch"], reached=r["reached"],
                                seconds_to_target=r["seconds"], accuracies=r["accuracies"],
                                train_samples=min(samples, MNIST_TRAIN_SAMPLES))
