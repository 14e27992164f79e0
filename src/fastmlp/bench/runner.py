"""Runs a side-by-side benchmark and returns its results as plain data (JSON-ready).

Every contender (each fastmlp backend, NumPy's matmul, PyTorch; each at each thread count)
is measured in its own process (fastmlp.bench.worker), on the same inputs, so no thread
pool or cache of one contender is shared with another. Rounds alternate: each round runs
every contender once, in an order rotated from round to round, so a noisy moment of the
machine is spread over all of them. A row reports the median of all its samples with
their quartiles and range. This CPU's peaks (FMA throughput, triad bandwidth) are probed
before and after the contenders; a row faster than the higher of the two is flagged as
noise (its figures moved to "measured") instead of being reported as a result.

A run has one matmul precision for the fastmlp backends (a backend that does not offer
it is skipped, with the reason in the results, never timed in float32 under a bfloat16
label). With "bfloat16", PyTorch runs its bfloat16 autocast path (GEMMs and epochs) so it
is compared like for like; NumPy's matmul stays float32, the baseline.
"""
from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys

from tqdm.auto import tqdm

from .. import backends
from . import machine
from .cases import MNIST_TRAIN_SAMPLES, kernel_cases, optimizer_bytes
from .epoch import TORCH_VARIANTS, torch_label
from .references import NUMPY_MATMUL, PYTORCH, PYTORCH_BF16, TORCH_BF16_NOTE
from .timing import spread
from .worker import job

# The contenders whose speed is NumPy's BLAS: the only ones run without the BLAS overrides
# (machine.BLAS_OVERRIDES) when the run asks for it.
BLAS_CONTENDERS = ("numpy", NUMPY_MATMUL)


def precision_skips(backend_names, matmul_precision):
    """{backend name: why it is left out} for the backends that do not offer
    `matmul_precision` (e.g. numba for "bfloat16"); loads them (errors early)."""
    skipped = {}
    for name in backend_names:
        backend = backends.get_backend(name)
        if matmul_precision not in backend.matmul_precisions:
            try:
                backend.set_matmul_precision(matmul_precision)  # raises, saying why
            except ValueError as exc:
                skipped[name] = str(exc)
    return skipped


def torch_reference(matmul_precision):
    """How PyTorch is run in a run of `matmul_precision`: (GEMM reference name,
    {epoch label: TorchEpoch options}, description)."""
    if matmul_precision == "bfloat16":
        options = {"autocast": "bfloat16"}
        return (PYTORCH_BF16, {torch_label(**options): options},
                f"GEMMs: {TORCH_BF16_NOTE}; epochs: forward pass and loss under the same "
                "autocast, float32 weights, torch.optim.Adam defaults")
    variants = {torch_label(): {}, torch_label(**TORCH_VARIANTS["fused_ftz"]): TORCH_VARIANTS["fused_ftz"]}
    return (PYTORCH, variants, "float32 torch.mm; epochs: eager float32 with torch.optim.Adam "
            "defaults, and with Adam(fused=True) and denormals flushed (fused+ftz)")


def run(workload, backend_names, thread_counts, kernels=None, epoch_steps=50, repeats=5,
        epoch_repeats=3, rounds=3, with_torch=True, progress=True, seed=0,
        matmul_precision="float32", clean_blas_env=True):
    """Benchmark `workload` on `backend_names` at each of `thread_counts`.

    Each contender runs `rounds` times, each time in a new process timing `repeats`
    samples per kernel case and `epoch_repeats` epochs of `epoch_steps` batches (0 skips
    epochs; scaled to a 60,000-sample epoch). The backends compute in `matmul_precision`;
    those that do not offer it are skipped (results["skipped"] says why), and ValueError if
    none is left. With clean_blas_env the BLAS_CONTENDERS run without the BLAS_OVERRIDES
    variables (reported in results["blas_env"]). Returns a dict; see fastmlp.bench.report.
    """
    skipped = precision_skips(backend_names, matmul_precision)
    names = [n for n in backend_names if n not in skipped]
    if not names:
        raise ValueError(f"no backend to run in matmul precision {matmul_precision}: "
                         + "; ".join(skipped.values()))
    torch = machine.torch_module() if with_torch else None
    ref_name, torch_epochs, torch_note = torch_reference(matmul_precision)
    cases, missing = kernel_cases(workload, kernels, seed=seed)
    jobs = _jobs(workload, names, thread_counts, cases, epoch_steps, repeats, epoch_repeats,
                 torch is not None, ref_name, torch_epochs, seed, matmul_precision, kernels)
    footprints = sorted({c.footprint for c in cases if c.memory_bound}
                        | ({_optimizer_footprint(workload)} if epoch_steps else set()))
    overrides = machine.blas_overrides()
    bar = tqdm(total=rounds * len(jobs), desc="fastmlp bench", unit="process", leave=False,
               disable=not progress)
    before = probe(thread_counts, footprints)
    samples = {}  # (kind, impl, threads) -> {row key: row with pooled samples}
    for r in range(rounds):
        shift = r % max(len(jobs), 1)  # rotate: each contender runs early in some round
        for spec in jobs[shift:] + jobs[:shift]:
            bar.set_postfix_str(f"round {r + 1} {spec['threads']}t {spec['kind']} {spec['impl']}",
                                refresh=False)
            clean = clean_blas_env and spec["impl"] in BLAS_CONTENDERS
            _pool(samples, spec, _run_job(spec, overrides if clean else {}))
            bar.update()
    bar.close()
    after = probe(thread_counts, footprints)
    peaks = {"before": before, "after": after, "best": _best(before, after)}
    results = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": machine.machine_info(),
        "peak": peaks,
        "workload": {"sizes": list(workload.sizes), "batch": workload.batch,
                     "activation": workload.activation, "params": workload.n_params,
                     "epoch_gflop": workload.step_flops(MNIST_TRAIN_SAMPLES) / 1e9},
        "threads": list(thread_counts),
        "matmul_precision": matmul_precision,
        "bf16_matmul_engine": (machine.bf16_matmul_engine()
                               if matmul_precision == "bfloat16" and "cpp" in names else None),
        "torch_reference": {"name": ref_name, "how": torch_note} if torch is not None else None,
        "blas_env": {"overrides": overrides, "removed_for": list(BLAS_CONTENDERS)
                     if clean_blas_env and overrides else []},
        "settings": {"rounds": rounds, "repeats": repeats, "epoch_steps": epoch_steps,
                     "epoch_repeats": epoch_repeats, "epoch_samples": MNIST_TRAIN_SAMPLES,
                     "isolation": "one process per contender, thread count and round"},
        "missing_kernels": missing,
        "backends": names, "skipped": skipped,
    }
    exempt = _exempt_from_fma_peak(results)
    by_case = {c.id: c for c in cases}
    kernel_rows = [_kernel_result(row, by_case[f"{row['kernel']}[{row['case']}]"], peaks["best"], exempt)
                   for (kind, _, _), rows in samples.items() if kind == "kernels" for row in rows.values()]
    isa = results["machine"].get("isa_path")
    results["roofline"] = {t: epoch_roofline(workload, peaks["best"], t, isa) for t in thread_counts} \
        if epoch_steps and matmul_precision not in exempt else {}
    if epoch_steps and matmul_precision in exempt:
        results["roofline_note"] = (f"no epoch roofline: {matmul_precision} GEMMs on "
                                    f"{machine.bf16_matmul_engine()} are not bounded by the float32 "
                                    "FMA peak the probe measures")
    epoch_rows = [_epoch_result(row, results["roofline"].get(row["threads"]),
                                results["workload"]["epoch_gflop"])
                  for (kind, _, _), rows in samples.items() if kind == "epoch" for row in rows.values()]
    _add_speedups(kernel_rows, ("kernel", "case", "threads"), {"numpy": "vs_numpy"})
    _add_speedups(epoch_rows, ("threads",), {"numpy": "vs_numpy", next(iter(torch_epochs)): "vs_torch"})
    results["kernels"], results["epochs"] = kernel_rows, epoch_rows
    results["noise_rows"] = sum(1 for r in kernel_rows + epoch_rows if r["noise"])
    return results


def _optimizer_footprint(workload):
    """Distinct bytes of an Adam step: parameters, gradients and the two moments."""
    return 4.0 * 4 * workload.n_params


def _jobs(workload, names, thread_counts, cases, epoch_steps, repeats, epoch_repeats,
          with_torch, ref_name, torch_epochs, seed, precision, kernels):
    """Every contender x thread count as a worker job, in the order of a first round."""
    refs = [NUMPY_MATMUL] + ([ref_name] if with_torch else [])
    has_gemm = any(c.gemm is not None for c in cases)
    common = dict(matmul_precision=precision, kernels=kernels, repeats=repeats,
                  epoch_steps=epoch_steps, epoch_repeats=epoch_repeats, seed=seed)
    jobs = []
    for threads in thread_counts:
        if cases:
            jobs += [job("kernels", impl, threads, workload, **common)
                     for impl in names + (refs if has_gemm else [])]
        if epoch_steps:
            jobs += [job("epoch", name, threads, workload, **common) for name in names]
            if with_torch:
                jobs += [job("epoch", label, threads, workload, torch_options=options, **common)
                         for label, options in torch_epochs.items()]
    return jobs


def _run_job(spec, remove_env):
    """Runs one job in a new process (without the variables in remove_env); its result."""
    env = {k: v for k, v in os.environ.items() if k not in remove_env}
    r = subprocess.run([sys.executable, "-m", "fastmlp.bench.worker", json.dumps(spec)],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"the {spec['kind']} job of {spec['impl']} ({spec['threads']} "
                           f"threads) failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _pool(samples, spec, result):
    """Adds a job's samples to those of its contender from earlier rounds."""
    rows = samples.setdefault((spec["kind"], spec["impl"], spec["threads"]), {})
    found = result["kernels"] if spec["kind"] == "kernels" else [result["epoch"]]
    for row in found:
        key = (row.get("kernel"), row.get("case"))
        pooled = rows.setdefault(key, {**row, "impl": spec["impl"], "threads": spec["threads"],
                                       "samples": [], "pids": [], "blas_env": result["blas_env"]})
        pooled["samples"] += row["samples"]
        pooled["pids"].append(result["pid"])  # one process per round


def probe(thread_counts, footprints):
    """This CPU's peaks now: {"fma_gflops": {isa: {threads: GFLOP/s}}, "triad_gbps":
    {threads: {footprint bytes: GB/s}}} (empty when the probe is not built)."""
    counts = sorted({1, *thread_counts})
    triad = {}
    if machine.bandwidth(1 << 16, 1) is not None:
        triad = {t: {int(f): machine.bandwidth(f, t) for f in footprints} for t in counts}
    return {"fma_gflops": machine.peak_table(thread_counts), "triad_gbps": triad}


def _best(before, after):
    """What the machine showed it can do: each peak's higher value of the two probes, made
    monotone where a bound is certain. More threads can do at least what fewer did (one may
    idle), and a smaller working set streams at least as fast as a larger one (it fits in
    the same or a nearer cache), so a probe that a busy moment spoiled does not become the
    yardstick."""
    fma = {isa: _at_least_fewer_threads({t: max(g, after["fma_gflops"].get(isa, {}).get(t, 0.0))
                                         for t, g in by.items()})
           for isa, by in before["fma_gflops"].items()}
    triad = {}
    for t, by in before["triad_gbps"].items():
        running, envelope = 0.0, {}
        for f in sorted(by, reverse=True):  # largest working set first
            running = max(running, by[f], after["triad_gbps"].get(t, {}).get(f, 0.0))
            envelope[f] = running
        triad[t] = dict(sorted(envelope.items()))
    counts = sorted(triad)
    for t0, t1 in zip(counts, counts[1:]):
        triad[t1] = {f: max(g, triad[t0].get(f, 0.0)) for f, g in triad[t1].items()}
    return {"fma_gflops": fma, "triad_gbps": triad}


def _at_least_fewer_threads(by_threads):
    out, running = {}, 0.0
    for t in sorted(by_threads):
        running = max(running, by_threads[t])
        out[t] = running
    return out


def _exempt_from_fma_peak(results):
    """Precisions whose GEMMs the float32 FMA peak does not bound: bfloat16 on any engine
    but the emulation (AMX tiles; VDPBF16PS, two multiply-adds per lane per instruction)."""
    engine = machine.bf16_matmul_engine()
    return {"bfloat16"} if engine not in (None, "emulated") else set()


def _kernel_result(row, case, best, exempt):
    """A kernel row: median seconds with spread, rate and % of peak, or a noise flag."""
    stats = spread(row.pop("samples"))
    seconds, threads = stats["median"], row["threads"]
    if case.memory_bound:
        rate = case.nbytes / seconds / 1e9
        peak = best["triad_gbps"].get(threads, {}).get(int(case.footprint))
    else:
        rate = case.flops / seconds / 1e9
        peak = None if row["precision"] in exempt else machine.best_of_table(best["fma_gflops"], threads)
    row.update(unit="GB/s" if case.memory_bound else "GFLOP/s", intensity=case.intensity,
               gflops=case.flops / seconds / 1e9, spread=stats)
    return _judged(row, seconds, rate, 100.0 * rate / peak if peak else None, "pct_peak")


def epoch_roofline(workload, best, threads, isa=None):
    """The fastest an Adam epoch of `workload` could be here: its GEMM FLOPs at the FMA peak
    plus Adam's traffic (optimizer_bytes per step) at the triad bandwidth over Adam's state.
    The peak is that of the cpp backend's ISA path `isa` when the probe measured it (with
    FASTMLP_ISA=avx2 on an AVX-512 CPU: the AVX2 peak, as on an AVX2-only machine), else
    the best of any ISA."""
    path_peaks = best["fma_gflops"].get(isa, {}) if isa else {}
    fma_isa = isa if path_peaks.get(threads) else None
    peak = path_peaks[threads] if fma_isa else machine.best_of_table(best["fma_gflops"], threads)
    bandwidth = best["triad_gbps"].get(threads, {}).get(int(_optimizer_footprint(workload)))
    gflop = workload.step_flops(MNIST_TRAIN_SAMPLES) / 1e9
    adam_gb = workload.epoch_steps() * optimizer_bytes(workload.n_params, 2) / 1e9
    if not peak or not bandwidth:
        return None
    return {"gemm_gflop": gflop, "fma_gflops": peak, "fma_isa": fma_isa,
            "adam_gb": adam_gb, "triad_gbps": bandwidth,
            "gemm_seconds": gflop / peak, "adam_seconds": adam_gb / bandwidth,
            "seconds": gflop / peak + adam_gb / bandwidth}


def _epoch_result(row, roofline, epoch_gflop):
    """An epoch row: median seconds with spread, GFLOP/s and % of the roofline (the
    roofline's seconds / the epoch's), or a noise flag."""
    stats = spread(row.pop("samples"))
    seconds = stats["median"]
    row.pop("kernel", None), row.pop("case", None)
    row["spread"] = stats
    pct = 100.0 * roofline["seconds"] / seconds if roofline else None
    return _judged(row, seconds, epoch_gflop / seconds, pct, "pct_roofline")


def _judged(row, seconds, rate, pct, pct_key):
    """Puts the result in the row, or, above 100% of what the machine can do, a noise flag
    with the figures under "measured" and none reported as a result."""
    if pct is not None and pct > 100.0:
        row.update(noise=f"{pct:.0f}% of this CPU's probed limit: the machine was busier "
                         "while the peak was probed than during this row (not a result)",
                   measured={"seconds": seconds, "rate": rate, pct_key: pct},
                   seconds=None, rate=None, **{pct_key: None})
    else:
        row.update(noise=None, seconds=seconds, rate=rate, **{pct_key: pct})
    return row


def _add_speedups(rows, keys, baselines):
    """rows[i][column] = baseline's seconds / row's seconds, for rows sharing `keys`
    (None where either is noise)."""
    for impl, column in baselines.items():
        base = {tuple(r[k] for k in keys): r["seconds"] for r in rows if r["impl"] == impl}
        for r in rows:
            ref = base.get(tuple(r[k] for k in keys))
            r[column] = ref / r["seconds"] if ref and r["seconds"] else None
