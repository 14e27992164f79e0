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
            assert case.flops > 0 and case.nbytes > 0 and case.intensity > 0, case.id
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
        results = run(w, names, [1], kernels=["gemm"], epoch_steps=1, repeats=1, rounds=1,
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


QUICK = ("--threads", "1", "--quick", "--no-progress")


def test_bench_command_reports_kernels_peak_and_epochs(tmp_path):
    pytest.importorskip("pytest_benchmark")
    out = tmp_path / "bench.json"
    r = _run("-m", "fastmlp", "bench", "--sizes", "784,16,10", "--batch-size", "32", *QUICK,
             "--rounds", "2", "--kernels", "gemm,adam_step,forward_backward", "--no-torch",
             "--json", str(out))
    assert r.returncode == 0, r.stderr
    for part in ("CPU:", "ISA path (cpp):", "caches per core:", "versions:", "numpy", "BLAS:",
                 "peak FMA before:", "peak FMA after:", "triad bandwidth before", "GFLOP/s",
                 "GB/s", "own process", "2 round(s)", "[q1-q3]", "epoch:", "s/epoch",
                 "epoch roofline, 1 thr:", "%roofline", "BLAS environment:"):
        assert part in r.stdout, part
    results = json.loads(out.read_text())
    assert {"cpu", "isa_path", "cache_bytes", "cpus"} <= set(results["machine"])
    assert set(results["peak"]) == {"before", "after", "best"}
    assert results["roofline"]["1"]["seconds"] > 0
    impls = {row["impl"] for row in results["kernels"]}
    assert {"numpy", "NumPy matmul"} <= impls
    assert {row["kernel"] for row in results["kernels"]} == {"gemm", "adam_step", "forward_backward"}
    assert {row["impl"] for row in results["epochs"]} >= {"numpy"}
    rows = results["kernels"] + results["epochs"]
    for row in rows:
        assert row["spread"]["n"] >= 2 and row["spread"]["min"] <= row["spread"]["max"]
        if row["noise"]:  # never a result: its figures only under "measured"
            assert row["seconds"] is None and row["rate"] is None and row["measured"]
        else:
            assert row["seconds"] > 0
            assert (row.get("pct_peak") or 0) <= 100 and (row.get("pct_roofline") or 0) <= 100
    # each contender in its own processes, one per round, never the parent's or another's
    pids = {}
    for row in rows:
        assert len(row["pids"]) == 2
        pids.setdefault((row["impl"], "epoch" if "kernel" not in row else "kernels"),
                        set()).update(row["pids"])
    groups = list(pids.values())
    assert all(not (a & b) for i, a in enumerate(groups) for b in groups[i + 1:])
    # the BLAS variables: said in the header, and unset only for NumPy's contenders
    overrides = results["blas_env"]["overrides"]
    for row in rows:
        expect_clean = row["impl"] in ("numpy", "NumPy matmul")
        assert row["blas_env"] == ({} if expect_clean else overrides), row["impl"]
    if overrides:
        assert "UNSET for the numpy and NumPy matmul contenders" in r.stdout


def test_rows_faster_than_the_probed_peak_are_noise_not_results(monkeypatch):
    # the peaks as a heavily loaded machine might probe them: far below anything measured
    from fastmlp.bench import runner
    from fastmlp.bench.cases import Workload
    from fastmlp.bench.report import format_text

    real_probe = runner.probe

    def busy_probe(thread_counts, footprints):
        found = real_probe(thread_counts, footprints)
        return {"fma_gflops": {isa: {t: 1e-6 for t in by} for isa, by in found["fma_gflops"].items()},
                "triad_gbps": {t: {f: 1e-6 for f in by} for t, by in found["triad_gbps"].items()}}

    monkeypatch.setattr(runner, "probe", busy_probe)
    results = runner.run(Workload((16, 8, 4), 8), ["numpy"], [1], kernels=["gemm", "adam_step"],
                         epoch_steps=1, repeats=1, epoch_repeats=1, rounds=1, with_torch=False,
                         progress=False)
    if not results["peak"]["best"]["fma_gflops"]:
        pytest.skip("the probe fastmlp._probe is not built: no peak to compare with")
    rows = results["kernels"] + results["epochs"]
    assert rows and all(r["noise"] and r["seconds"] is None and r["rate"] is None for r in rows)
    assert results["noise_rows"] == len(rows)
    text = format_text(results)
    assert "flagged as noise" in text and "not a result" in text
    assert " GB/s " not in text.split("kernels:")[1].split("epoch:")[0]  # no rate printed


def test_bench_plots_are_drawn_at_screen_size(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "plots"
    r = _run("-m", "fastmlp", "bench", "--sizes", "784,16,10", "--batch-size", "32", *QUICK,
             "--kernels", "gemm,adam_step,bias_grad", "--no-torch", "--backends", "numpy,cpp",
             "--plot", str(out))
    assert r.returncode == 0, r.stderr
    from matplotlib.image import imread

    for name in ("bench_speedup.png", "bench_roofline.png", "bench_epoch.png"):
        height, width = imread(out / name).shape[:2]
        assert width <= 1600 and height <= 1000, (name, width, height)


def test_bench_command_bfloat16_skips_numba_and_uses_torch_autocast(tmp_path):
    pytest.importorskip("pytest_benchmark")
    out = tmp_path / "bench.json"
    r = _run("-m", "fastmlp", "bench", "--sizes", "784,16,10", "--batch-size", "32",
             *QUICK, "--kernels", "gemm,forward_backward", "--matmul-precision", "bfloat16",
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
        if results["bf16_matmul_engine"] in ("amx", "avx512_bf16"):
            # bfloat16 hardware outruns float32 FMAs: no float32 peak or roofline judges it
            assert results["roofline"] == {} and "no epoch roofline" in r.stdout
            assert all(row["pct_peak"] is None for row in results["kernels"]
                       if row["impl"] == "cpp" and not row["noise"] and row["unit"] == "GFLOP/s")
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


def test_benchmark_json_carries_the_machine():
    # the pytest-benchmark hook of benchmarks/conftest.py, called as pytest-benchmark does
    import importlib.util

    spec = importlib.util.spec_from_file_location("benchmarks_conftest", ROOT / "benchmarks" / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)

    class Config:
        def getoption(self, name):
            return 1 if name == "--bench-threads" else None

    info = {}
    conftest.pytest_benchmark_update_machine_info(Config(), info)
    fastmlp_info = info["fastmlp"]
    assert {"cpu", "isa_path", "cache_bytes", "fma_peak_gflops", "triad_gbps"} <= set(fastmlp_info)
    assert fastmlp_info["threads"] == 1


def test_the_epoch_roofline_takes_the_peak_of_the_isa_path_in_use():
    # FASTMLP_ISA=avx2 on an AVX-512 CPU stands for an AVX2-only machine: its epochs are
    # held to the AVX2 peak; an ISA the probe did not measure falls back to the best one
    from fastmlp.bench.cases import WORKLOADS
    from fastmlp.bench.runner import _optimizer_footprint, epoch_roofline

    seed = WORKLOADS["seed"]
    best = {"fma_gflops": {"avx512": {2: 500.0}, "avx2": {2: 250.0}},
            "triad_gbps": {2: {int(_optimizer_footprint(seed)): 100.0}}}
    adam = seed.epoch_steps() * seed.n_params * 28 / 1e9 / 100.0
    for isa, peak, named in (("avx2", 250.0, "avx2"), ("avx512", 500.0, "avx512"),
                             ("generic", 500.0, None), (None, 500.0, None)):
        roof = epoch_roofline(seed, best, 2, isa)
        assert roof["fma_gflops"] == peak and roof["fma_isa"] == named
        assert roof["seconds"] == pytest.approx(383.3 / peak + adam, rel=1e-3)


def test_gemm_isolated_can_give_numpy_another_openblas_kernel():
    # --numpy-coretype reaches NumPy's process alone (OpenBLAS's AVX2 kernel stands for an
    # AVX2-only CPU's NumPy), and the table says which kernel NumPy and cpp ran
    pytest.importorskip("threadpoolctl")
    r = _run("benchmarks/gemm_isolated.py", "--workload", "small", "--rounds", "1",
             "--threads", "1", "--repeats", "1", "--impls", "NumPy matmul,cpp",
             "--numpy-coretype", "Haswell")
    assert r.returncode == 0, r.stderr[-3000:]
    numpy_line = next(line for line in r.stdout.splitlines() if "NumPy matmul: " in line)
    import numpy as np
    if "openblas" in str(np.show_config(mode="dicts")).lower():
        assert "Haswell kernel" in numpy_line, numpy_line
    assert any("cpp: matmul=float32, isa=" in line for line in r.stdout.splitlines())
