"""Presenting benchmark results (the dict fastmlp.bench.runner.run returns): a text table,
JSON, and a bar chart."""
from __future__ import annotations

import json

from ..atomic_write import save_figure


def _time(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:7.2f} {unit}"
    return f"{seconds / 1e-9:7.1f} ns"


def _opt(value, fmt, none="-"):
    return none if value is None else format(value, fmt)


def machine_lines(info, peaks):
    """The CPU, versions, BLAS and measured peak: printed with every report."""
    v = info["versions"]
    lines = [f"CPU: {info['cpu']}, {info['cpus']} CPUs available; {info['platform']}",
             "versions: " + ", ".join(
                 [f"python {v['python']}", f"fastmlp {v['fastmlp']}",
                  f"numpy {v['numpy']} (BLAS: {v['numpy_blas'] or 'unknown'})",
                  f"numba {v['numba'] or 'not installed'}",
                  f"torch {v['torch']} ({v.get('torch_blas', '')})" if v["torch"]
                  else "torch not installed"])]
    if info.get("removed_env"):
        lines.append(f"environment: ran without {info['removed_env']} (they slow NumPy's BLAS)")
    if peaks:
        lines.append("peak float32 FMA throughput (native probe fastmlp._probe, best of 3): " + "; ".join(
            f"{isa.upper()} " + ", ".join(f"{t} thr {g:.0f}" for t, g in by_threads.items())
            for isa, by_threads in peaks.items()) + " GFLOP/s")
    else:
        lines.append("peak: unknown (the probe fastmlp._probe is not built; % of peak omitted)")
    return lines


def precision_lines(results):
    """The matmul precision of the run, how each contender honours it, and the backends
    left out because they do not offer it (results of runs before precisions: float32)."""
    precision = results.get("matmul_precision", "float32")
    torch = results.get("torch_reference")
    if precision == "float32":
        lines = ["matmul precision: float32 (every backend and reference)"]
    else:
        how = {"cpp": f"cpp: bf16 engine {results.get('bf16_matmul_engine') or 'unknown'}",
               "numpy": "numpy: exact emulation (slow; the reference)"}
        lines = [f"matmul precision: {precision} for the fastmlp backends (both GEMM operands "
                 f"rounded to {precision}, float32 accumulation and output): "
                 + ", ".join(how.get(n, n) for n in results.get("backends", [])),
                 "  NumPy matmul rows stay float32; 'x numpy' is against the numpy backend in "
                 f"{precision}; %peak is of the float32 FMA peak (bfloat16 GEMMs on AMX can exceed 100)"]
        if torch:
            lines.append(f"  PyTorch rows ({torch['name']}), like for like: {torch['how']}")
    for name, reason in results.get("skipped", {}).items():
        lines.append(f"skipped: {name}: {reason}")
    return lines


def header_lines(results):
    w = results["workload"]
    return ([f"fastmlp bench, {results['date']}"]
            + machine_lines(results["machine"], results["peak"]["fma_gflops"])
            + [f"workload: MLP {'-'.join(map(str, w['sizes']))} {w['activation']}, batch {w['batch']}, "
               f"{w['epoch_gflop']:.1f} GFLOP per 60,000-sample epoch; threads {results['threads']}"]
            + precision_lines(results))


def kernel_table(results):
    s = results["settings"]
    kw = max([21] + [len(r["kernel"]) for r in results["kernels"]])  # sigmoid_binary_cross_entropy
    lines = [f"kernels: median of {s['repeats']} samples after warm-up; % peak is of the FMA peak "
             "for GFLOP/s, of a triad over the same bytes for GB/s",
             f"{'thr':>3}  {'kernel':<{kw}} {'case':<34} {'impl':<13} {'time':>10} "
             f"{'rate':>16} {'%peak':>6} {'x numpy':>8}"]
    prev = None
    for r in results["kernels"]:
        key = (r["threads"], r["kernel"], r["case"])
        first = key != prev
        prev = key
        impl = r["impl"] + ("" if r["native"] else "*")
        lines.append(f"{r['threads'] if first else '':>3}  {r['kernel'] if first else '':<{kw}} "
                     f"{r['case'] if first else '':<34} {impl:<13} {_time(r['seconds']):>10} "
                     f"{r['rate']:9.1f} {r['unit']:<6} {_opt(r['pct_peak'], '5.1f'):>6} "
                     f"{_opt(r['vs_numpy'], '7.2f'):>8}")
    if any(not r["native"] for r in results["kernels"]):
        lines.append("  * not native in this backend: it runs the base class's NumPy version "
                     "(forward_backward: composed of the backend's own kernels)")
    if results["missing_kernels"]:
        lines.append(f"  not measured (no input generator in fastmlp.bench.cases): "
                     f"{', '.join(results['missing_kernels'])}")
    return lines


def epoch_table(results, peak_by_threads):
    rows = results["epochs"]
    if not rows:
        return []
    s, r0 = results["settings"], rows[0]
    gflop = results["workload"]["epoch_gflop"]
    lines = [f"epoch: {s['epoch_steps']} training steps ({r0['timed_samples']} {r0['data']} samples) "
             f"timed, median of {s['epoch_repeats']}, scaled to {s['epoch_samples']:,} samples "
             "(a part of an epoch, extrapolated; later epochs can be slower where denormals appear)",
             f"{'thr':>3}  {'impl':<13} {'s/epoch':>8} {'GFLOP/s':>8} {'%peak':>6} "
             f"{'x numpy':>8} {'x PyTorch':>9}"]
    for r in rows:
        rate = gflop / r["seconds"]
        peak = peak_by_threads.get(r["threads"])
        lines.append(f"{r['threads']:>3}  {r['impl']:<13} {r['seconds']:8.2f} {rate:8.1f} "
                     f"{_opt(100 * rate / peak if peak else None, '5.1f'):>6} "
                     f"{_opt(r['vs_numpy'], '7.2f'):>8} {_opt(r['vs_torch'], '8.2f'):>9}")
    return lines


def best_peaks(results):
    """{threads: best FMA GFLOP/s over the ISAs probed}."""
    out = {}
    for by_threads in results["peak"]["fma_gflops"].values():
        for t, g in by_threads.items():
            out[int(t)] = max(g, out.get(int(t), 0.0))
    return out


def format_text(results):
    return "\n".join(header_lines(results) + [""] + kernel_table(results) + [""]
                     + epoch_table(results, best_peaks(results))) + "\n"


def to_json(results):
    return json.dumps(results, indent=2, default=str)


def plot(results, path):
    """A bar chart: each kernel case's % of peak per contender, and seconds per epoch."""
    try:
        import matplotlib
        matplotlib.use("Agg")  # files only; works without a display
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("--plot needs matplotlib: pip install 'fastmlp[plot]'") from None
    threads = max(results["threads"])
    rows = [r for r in results["kernels"] if r["threads"] == threads]
    cases = list(dict.fromkeys(f"{r['kernel']} {r['case']}" for r in rows))
    impls = list(dict.fromkeys(r["impl"] for r in rows))
    epochs = [r for r in results["epochs"] if r["threads"] == threads]
    fig, axes = plt.subplots(1, 2 if epochs else 1, figsize=(16, 0.32 * len(cases) * len(impls) / 2 + 3),
                             squeeze=False, gridspec_kw={"width_ratios": [3, 1]} if epochs else None)
    ax = axes[0][0]
    height = 0.8 / max(len(impls), 1)
    for j, impl in enumerate(impls):
        values = {f"{r['kernel']} {r['case']}": r["pct_peak"] or 0.0 for r in rows if r["impl"] == impl}
        ax.barh([i + j * height for i in range(len(cases))], [values.get(c, 0.0) for c in cases],
                height=height, label=impl)
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(cases))], cases, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("% of this CPU's peak (FMA peak for GFLOP/s kernels, triad bandwidth for GB/s)")
    ax.set_title(f"kernels, {threads} thread(s)")
    ax.legend(fontsize=8)
    if epochs:
        ax = axes[0][1]
        ax.bar([r["impl"] for r in epochs], [r["seconds"] for r in epochs],
               color=[f"C{impls.index(r['impl']) if r['impl'] in impls else len(impls)}" for r in epochs])
        ax.set_ylabel("seconds per 60,000-sample epoch (extrapolated)")
        ax.set_title(f"training epoch, {threads} thread(s)")
        ax.tick_params(axis="x", rotation=30)
    w = results["workload"]
    fig.suptitle(f"fastmlp bench: MLP {'-'.join(map(str, w['sizes']))}, batch {w['batch']}; "
                 f"{results['machine']['cpu']}")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
