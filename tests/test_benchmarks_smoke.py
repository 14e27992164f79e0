"""The benchmark suite and `fastmlp bench` run end to end (once each, at small sizes).

Timing is not checked (no test asserts a wall time); what is checked is that every
benchmark runs, that every kernel has inputs to be benchmarked on (a kernel without
one would only be reported as a skip), and that the report has the parts a user needs.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args, timeout=300):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTMLP_")}
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_every_kernel_has_inputs_that_run():
    # in process, on the oracle: every kernel of base.KERNELS gets cases at both anchor
    # workloads, whose arguments pass validation, each rated in FLOP/s or in GB/s
    from fastmlp.backends import KERNELS, get_backend
    from fastmlp.bench.cases import WORKLOADS, kernel_cases

    numpy_backend = get_backend("numpy")
    for workload in WORKLOADS.values():
        cases, missing = kernel_cases(workload)
        assert missing == [], f"add input builders to fastmlp.bench.cases.BUILDERS: {missing}"
        assert {c.kernel for c in cases} == set(KERNELS)
        for case in cases:
            assert (case.flops > 0) != (case.nbytes > 0), case.id
            case.call(numpy_backend)


def test_every_benchmark_runs_once():
    pytest.importorskip("pytest_benchmark")
    # --benchmark-disable runs each benchmark function once, untimed
    r = _run("-m", "pytest", "benchmarks", "-q", "-p", "no:cacheprovider", "--benchmark-disable",
             "--bench-workloads", "small", "--bench-epoch-samples", "256",
             "--bench-epoch-rounds", "1", "--bench-threads", "1", "-rs")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert " passed" in r.stdout and "error" not in r.stdout.lower()
    for line in r.stdout.splitlines():  # skips are only for absent optional parts
        if line.startswith("SKIPPED"):
            assert "PyTorch is not installed" in line or "no input generator" in line \
                or "cannot be loaded" in line, line


def test_bench_command_reports_kernels_peak_and_epochs(tmp_path):
    pytest.importorskip("pytest_benchmark")
    out = tmp_path / "bench.json"
    r = _run("-m", "fastmlp", "bench", "--sizes", "784,16,10", "--batch-size", "32",
             "--threads", "1", "--repeats", "1", "--epoch-steps", "2", "--no-progress",
             "--kernels", "gemm,adam_step,forward_backward", "--no-torch", "--json", str(out))
    assert r.returncode == 0, r.stderr
    for part in ("CPU:", "versions:", "numpy", "BLAS:", "peak float32 FMA", "GFLOP/s", "GB/s",
                 "epoch:", "s/epoch"):
        assert part in r.stdout, part
    results = json.loads(out.read_text())
    impls = {row["impl"] for row in results["kernels"]}
    assert {"numpy", "NumPy matmul"} <= impls
    assert {row["kernel"] for row in results["kernels"]} == {"gemm", "adam_step", "forward_backward"}
    assert {row["impl"] for row in results["epochs"]} >= {"numpy"}
    assert all(row["seconds"] > 0 for row in results["kernels"] + results["epochs"])


def test_bench_command_rejects_unknown_kernel():
    r = _run("-m", "fastmlp", "bench", "--kernels", "nope", "--no-progress")
    assert r.returncode == 2 and "unknown kernel" in r.stderr
