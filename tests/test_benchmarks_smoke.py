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


def _cpp_has_bfloat16():
    from fastmlp import backends

    return "cpp" in backends.backends_with_matmul_precision("bfloat16")


def _has(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_every_benchmark_runs_once():
    pytest.importorskip("pytest_benchmark")
    # --benchmark-disable runs each benchmark function once, untimed; -rA lists each test
    r = _run("-m", "pytest", "benchmarks", "-q", "-p", "no:cacheprovider", "--benchmark-disable",
             "--bench-workloads", "small", "--bench-epoch-samples", "256",
             "--bench-epoch-rounds", "1", "--bench-threads", "1", "-rA")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert " passed" in r.stdout and "error" not in r.stdout.lower()
    for line in r.stdout.splitlines():  # skips are only for absent optional parts
        if line.startswith("SKIPPED"):
            assert "PyTorch is not installed" in line or "no input generator" in line \
                or "cannot be loaded" in line or "does not offer matmul precision" in line, line
    passed = {line.split()[1] for line in r.stdout.splitlines() if line.startswith("PASSED")}
    epoch = "benchmarks/test_bench_epoch.py::"
    if _cpp_has_bfloat16():  # the cpp backend in bfloat16, its own benchmark
        assert f"{epoch}test_epoch[small-cpp-bfloat16]" in passed
    if _has("torch"):  # the PyTorch variants of ../shared/ANCHORS.md
        for variant in ("default_adam", "fused_ftz", "bf16_autocast"):
            assert f"{epoch}test_torch_epoch[small-{variant}]" in passed, variant


def test_epoch_trainers_restore_precision_and_flush_state():
    # in a child process: runner.run sets threads for the whole process
    code = """if True:
        import json
        from fastmlp import backends
        from fastmlp.bench.cases import Workload
        from fastmlp.bench.epoch import TORCH_VARIANTS, FastmlpEpoch, TorchEpoch, epoch_data
        from fastmlp.bench.machine import torch_module
        from fastmlp.bench.references import torch_flushed_fraction
        from fastmlp.bench.runner import run
        w = Workload((16, 8, 4), 8)
        names = [n for n, ok in backends.available_backends().items() if ok]
        before = {n: backends.get_backend(n).matmul_precision for n in names}
        torch = torch_module()
        results = run(w, names, [1], kernels=["gemm"], epoch_steps=1, repeats=1,
                      with_torch=torch is not None, progress=False, matmul_precision="bfloat16")
        x, y, _ = epoch_data(w, 32)
        out = {"skipped": sorted(results["skipped"]), "ran": results["backends"],
               "kernel_precisions": sorted({(r["impl"], r["precision"]) for r in results["kernels"]}),
               "epoch_impls": [r["impl"] for r in results["epochs"]]}
        if "cpp" in names:
            trainer = FastmlpEpoch("cpp", w, matmul_precision="bfloat16")
            with trainer.session():
                trainer(x, y)
                out["cpp_inside"] = backends.get_backend("cpp").matmul_precision
        out["restored"] = before == {n: backends.get_backend(n).matmul_precision for n in names}
        if torch is not None:
            torch.set_num_threads(2)
            flush_before = torch_flushed_fraction(torch)
            trainer = TorchEpoch(w, **TORCH_VARIANTS["bf16_autocast"])
            trainer(x, y)
            out["torch_label"] = trainer.label
            out["flushed_all_threads"] = trainer.flushed_all_threads
            out["flush_restored"] = torch_flushed_fraction(torch) == flush_before
        print(json.dumps(out))
    """
    r = _run("-c", code)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["restored"]
    assert "numba" not in out["ran"]
    if _has("numba"):
        assert out["skipped"] == ["numba"]
    if "cpp" in out["ran"]:
        assert out["cpp_inside"] == "bfloat16" and ["cpp", "bfloat16"] in out["kernel_precisions"]
    assert ["NumPy matmul", "float32"] in out["kernel_precisions"]
    if _has("torch"):
        assert ["PyTorch bf16", "bfloat16"] in out["kernel_precisions"]
        assert "PyTorch bf16" in out["epoch_impls"] and "PyTorch" not in out["epoch_impls"]
        assert out["torch_label"] == "PyTorch bf16+fused+ftz"
        assert out["flushed_all_threads"] is True and out["flush_restored"]


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


def test_bench_command_bfloat16_skips_numba_and_uses_torch_autocast(tmp_path):
    pytest.importorskip("pytest_benchmark")
    out = tmp_path / "bench.json"
    r = _run("-m", "fastmlp", "bench", "--sizes", "784,16,10", "--batch-size", "32",
             "--threads", "1", "--repeats", "1", "--epoch-steps", "2", "--no-progress",
             "--kernels", "gemm,forward_backward", "--matmul-precision", "bfloat16",
             "--json", str(out))
    assert r.returncode == 0, r.stderr
    assert "matmul precision: bfloat16" in r.stdout
    results = json.loads(out.read_text())
    assert results["matmul_precision"] == "bfloat16"
    impls = {row["impl"] for row in results["kernels"] + results["epochs"]}
    if _has("numba"):  # never timed in float32 under a bfloat16 run: skipped, saying why
        assert "numba" in results["skipped"] and "numba" not in impls
        assert "skipped: numba:" in r.stdout and "float32 only" in r.stdout
        assert "skipping numba" in r.stderr
    if _cpp_has_bfloat16():
        assert results["bf16_matmul_engine"] in ("amx", "avx512_bf16", "emulated")
        assert f"cpp: bf16 engine {results['bf16_matmul_engine']}" in r.stdout
    for row in results["kernels"] + results["epochs"]:
        if row["impl"] in ("cpp", "numpy"):
            assert row["precision"] == "bfloat16", row
    if _has("torch"):  # like for like: PyTorch through bfloat16 autocast only
        assert "PyTorch bf16" in impls and "PyTorch" not in impls
        assert "autocast" in r.stdout
        assert all(row["vs_torch"] for row in results["epochs"])


def test_bench_command_bfloat16_without_any_backend_for_it():
    if not _has("numba"):
        pytest.skip("numba is not installed")
    r = _run("-m", "fastmlp", "bench", "--backends", "numba", "--matmul-precision", "bfloat16",
             "--no-progress", "--no-torch")
    assert r.returncode == 2 and "no backend to run in matmul precision bfloat16" in r.stderr


def test_gemm_isolated_runs_each_contender_kind():
    r = _run("benchmarks/gemm_isolated.py", "--help")
    assert r.returncode == 0 and "--impls" in r.stdout
    impls = ["NumPy matmul", "cpp", "cpp bf16", "PyTorch bf16"]
    r = _run("benchmarks/gemm_isolated.py", "--workload", "small", "--rounds", "1",
             "--threads", "1", "--repeats", "1", "--impls", ",".join(impls))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "ratio to NumPy matmul, float32" in r.stdout
    ran = [i for i in impls if (i != "PyTorch bf16" or _has("torch"))
           and (i != "cpp bf16" or _cpp_has_bfloat16())]
    header = next(line for line in r.stdout.splitlines() if line.startswith("case"))
    for impl in ran:
        assert impl in header, impl
    if "cpp bf16" in ran and "PyTorch bf16" in ran:
        assert "cpp bf16 / PyTorch bf16" in header
        assert "engine=" in r.stdout
    rows = [line for line in r.stdout.splitlines() if line.startswith(("fwd", "dW", "dX"))]
    assert len(rows) == 5  # the small workload's GEMMs: fwd and dW per layer, dX of layer 2


def test_bench_command_rejects_unknown_kernel():
    r = _run("-m", "fastmlp", "bench", "--kernels", "nope", "--no-progress")
    assert r.returncode == 2 and "unknown kernel" in r.stderr
