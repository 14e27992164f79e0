"""Presenting benchmark results (the dict fastmlp.bench.runner.run returns): a text table,
JSON, and a bar chart."""
from __future__ import annotations

import json


def _time(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:7.2f} {unit}"
    return f"{seconds / 1e-9:7.1f} ns"


def _opt(value, fmt, none="-"):
    return none if value is None else format(value, fmt)


def _bytes(n):
    for unit, scale in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} B"


def _peaks_text(peaks):
    return "; ".join(f"{isa.upper()} " + ", ".join(f"{t} thr {g:.0f}" for t, g in by.items())
                     for isa, by in peaks.items()) + " GFLOP/s"


def machine_lines(info, peaks):
    """The CPU, its caches and ISA path, versions, BLAS and the measured FMA peak
    ({isa: {threads: GFLOP/s}}): printed with every report."""
    v = info["versions"]
    caches = ", ".join(f"{k} {_bytes(n)}" for k, n in info.get("cache_bytes", {}).items())
    lines = [f"CPU: {info['cpu']}, {info['cpus']} CPUs available; {info['platform']}",
             f"ISA path (cpp): {info.get('isa_path', 'unknown')}; caches per core: {caches or 'unknown'}",
             "versions: " + ", ".join(
                 [f"python {v['python']}", f"fastmlp {v['fastmlp']}",
                  f"numpy {v['numpy']} (BLAS: {v['numpy_blas'] or 'unknown'})",
                  f"numba {v['numba'] or 'not installed'}",
                  f"torch {v['torch']} ({v.get('torch_blas', '')})" if v["torch"]
                  else "torch not installed"])]
    if info.get("removed_env"):
        lines.append(f"environment: ran without {info['removed_env']} (they slow NumPy's BLAS)")
    if peaks:
        lines.append("peak float32 FMA throughput (native probe fastmlp._probe, best of 3): "
                     + _peaks_text(peaks))
    else:
        lines.append("peak: unknown (the probe fastmlp._probe is not built; % of peak omitted)")
    return lines


def peak_lines(results):
    """The peaks probed before and after the contenders, and what to make of them."""
    p = results["peak"]
    if not p["before"]["fma_gflops"]:
        return ["peak: unknown (the probe fastmlp._probe is not built; % of peak omitted)"]
    lines = [f"peak FMA before: {_peaks_text(p['before']['fma_gflops'])}",
             f"peak FMA after:  {_peaks_text(p['after']['fma_gflops'])}"]
    for when in ("before", "after"):
        for t, by in p[when]["triad_gbps"].items():
            if by:
                lines.append(f"triad bandwidth {when}, {t} thr: " + ", ".join(
                    f"{_bytes(f)} {g:.0f}" for f, g in by.items()) + " GB/s")
    lines.append("% of peak is of the higher of the two probes; a row above 100% is flagged "
                 "as noise, not reported as a result")
    for isa, by in p["best"]["fma_gflops"].items():
        counts = sorted(by)
        slower = [t for a, t in zip(counts, counts[1:]) if by[t] < by[a]]
        if slower:
            lines.append(f"WARNING: {isa} peak on {slower[0]} threads is below the peak on "
                         "fewer threads: other processes hold the cores, so multi-thread rows "
                         "and their % of peak are unreliable")
    return lines


def blas_lines(results):
    """The explicit choice about OpenBLAS's tuning variables."""
    env = results.get("blas_env") or {}
    overrides = env.get("overrides") or {}
    if not overrides:
        return ["BLAS environment: no OpenBLAS tuning variables set"]
    found = ", ".join(f"{k}={v}" for k, v in overrides.items())
    if env.get("removed_for"):
        return [f"BLAS environment: {found} set here; UNSET for the {' and '.join(env['removed_for'])} "
                "contenders' processes (they slow NumPy's BLAS; --keep-blas-env keeps them)"]
    return [f"BLAS environment: {found} set here and kept for every contender (--keep-blas-env)"]


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
                 f"{precision}; %peak is of the float32 FMA peak (not given for bfloat16 on AMX)"]
    if torch:
        lines.append(f"PyTorch ({torch['name']}): {torch['how']}")
    for name, reason in results.get("skipped", {}).items():
        lines.append(f"skipped: {name}: {reason}")
    return lines


def header_lines(results):
    w, s = results["workload"], results["settings"]
    return ([f"fastmlp bench, {results['date']}"]
            + machine_lines(results["machine"], results["peak"]["best"]["fma_gflops"])[:-1]
            + peak_lines(results) + blas_lines(results)
            + [f"workload: MLP {'-'.join(map(str, w['sizes']))} {w['activation']}, batch {w['batch']}, "
               f"{w['params']:,} parameters, {w['epoch_gflop']:.1f} GFLOP per 60,000-sample epoch; "
               f"threads {results['threads']}",
               f"method: each contender at each thread count in its own process, {s['rounds']} "
               f"round(s) in rotated order; medians with quartiles [q1-q3] over all samples"]
            + precision_lines(results))


def _spread(r):
    sp = r["spread"]
    return f"[{_time(sp['q1']).strip()}-{_time(sp['q3']).strip()}]"


def kernel_table(results):
    s = results["settings"]
    rows = sorted(results["kernels"], key=lambda r: (r["threads"], r["kernel"], r["case"]))
    kw = max([21] + [len(r["kernel"]) for r in rows])  # sigmoid_binary_cross_entropy
    lines = [f"kernels: {s['repeats']} samples per round after warm-up; % peak is of the FMA peak "
             "for GFLOP/s, of a triad over the same bytes for GB/s; AI = FLOPs per byte",
             f"{'thr':>3}  {'kernel':<{kw}} {'case':<34} {'AI':>5} {'impl':<13} {'median':>10} "
             f"{'[q1-q3]':>21} {'rate':>16} {'%peak':>6} {'x numpy':>8}"]
    prev = None
    for r in rows:
        key = (r["threads"], r["kernel"], r["case"])
        first = key != prev
        prev = key
        impl = r["impl"] + ("" if r["native"] else "*")
        lead = (f"{r['threads'] if first else '':>3}  {r['kernel'] if first else '':<{kw}} "
                f"{r['case'] if first else '':<34} {_opt(r['intensity'] if first else None, '5.1f', ''):>5} "
                f"{impl:<13} ")
        if r["noise"]:
            lines.append(lead + f"{'noise':>10} {'':>21} {'(' + format(r['measured']['pct_peak'], '.0f') + '% of peak: not a result)':>33}")
            continue
        lines.append(lead + f"{_time(r['seconds']):>10} {_spread(r):>21} "
                     f"{r['rate']:9.1f} {r['unit']:<6} {_opt(r['pct_peak'], '5.1f'):>6} "
                     f"{_opt(r['vs_numpy'], '7.2f'):>8}")
    if any(not r["native"] for r in rows):
        lines.append("  * not native in this backend: it runs the base class's NumPy version "
                     "(forward_backward: composed of the backend's own kernels)")
    if results["missing_kernels"]:
        lines.append(f"  not measured (no input generator in fastmlp.bench.cases): "
                     f"{', '.join(results['missing_kernels'])}")
    return lines


def roofline_lines(results):
    """The epoch's roofline per thread count: GEMM FLOPs at the FMA peak + Adam's traffic
    at the triad bandwidth."""
    lines = []
    for t, roof in results.get("roofline", {}).items():
        if roof is None:
            lines.append(f"epoch roofline, {t} thr: unknown (no probe)")
            continue
        lines.append(f"epoch roofline, {t} thr: {roof['gemm_gflop']:.1f} GFLOP at "
                     f"{roof['fma_gflops']:.0f} GFLOP/s = {roof['gemm_seconds']:.2f} s + Adam "
                     f"{roof['adam_gb']:.1f} GB ({results['workload']['params']:,} params x 28 B x "
                     f"{roof['adam_gb'] * 1e9 / 28 / results['workload']['params']:.0f} steps) at "
                     f"{roof['triad_gbps']:.0f} GB/s = {roof['adam_seconds']:.2f} s; "
                     f"roofline {roof['seconds']:.2f} s")
    return lines


def epoch_table(results):
    rows = sorted(results["epochs"], key=lambda r: r["threads"])
    if not rows:
        return []
    s, r0 = results["settings"], rows[0]
    lines = [f"epoch: {s['epoch_steps']} training steps ({r0['timed_samples']} {r0['data']} samples) "
             f"timed {s['epoch_repeats']} times per round, scaled to {s['epoch_samples']:,} samples "
             "(a part of an epoch, extrapolated; later epochs can be slower where denormals appear)"]
    lines += roofline_lines(results)
    lines.append(f"{'thr':>3}  {'impl':<20} {'s/epoch':>8} {'[q1-q3]':>13} {'GFLOP/s':>8} "
                 f"{'%roofline':>9} {'x numpy':>8} {'x PyTorch':>9}")
    for r in rows:
        if r["noise"]:
            lines.append(f"{r['threads']:>3}  {r['impl']:<20} {'noise':>8} "
                         f"({r['measured']['pct_roofline']:.0f}% of the roofline: not a result)")
            continue
        quartiles = f"[{r['spread']['q1']:.2f}-{r['spread']['q3']:.2f}]"
        lines.append(f"{r['threads']:>3}  {r['impl']:<20} {r['seconds']:8.2f} {quartiles:>13} "
                     f"{r['rate']:8.1f} {_opt(r['pct_roofline'], '8.1f'):>9} "
                     f"{_opt(r['vs_numpy'], '7.2f'):>8} {_opt(r['vs_torch'], '8.2f'):>9}")
    return lines


def format_text(results):
    lines = header_lines(results) + [""] + kernel_table(results) + [""] + epoch_table(results)
    if results.get("noise_rows"):
        lines += ["", f"{results['noise_rows']} row(s) flagged as noise: faster than this CPU's "
                  "probed limits, so not results; rerun on a quieter machine"]
    return "\n".join(lines) + "\n"


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
    fig.savefig(path, dpi=110)
    plt.close(fig)
