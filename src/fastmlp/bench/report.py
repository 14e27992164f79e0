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
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"


def _peaks_text(peaks):
    return "; ".join(f"{isa.upper()} " + ", ".join(f"{t} thr {g:.3g}" for t, g in by.items())
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
    for t, by in p["before"]["triad_gbps"].items():
        if by:
            big, small = max(by), min(by)
            after = p["after"]["triad_gbps"].get(t, {})
            ends = ", ".join(f"{_bytes(f)} {by[f]:.3g}/{after.get(f, 0):.3g}"
                             for f in dict.fromkeys([small, big]))
            lines.append(f"triad bandwidth before/after, {t} thr: {ends} GB/s (working sets "
                         f"probed: {len(by)}, each in the JSON)")
    lines.append("% of peak is of the higher of the two probes (never below a larger working "
                 "set's or fewer threads'); a row above 100% is flagged as noise, not a result")
    for isa, by in p["before"]["fma_gflops"].items():
        by = {t: max(g, p["after"]["fma_gflops"].get(isa, {}).get(t, 0.0)) for t, g in by.items()}
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
    lines = [results["roofline_note"]] if results.get("roofline_note") else []
    for t, roof in results.get("roofline", {}).items():
        if roof is None:
            lines.append(f"epoch roofline, {t} thr: unknown (no probe)")
            continue
        lines.append(f"epoch roofline, {t} thr: {roof['gemm_gflop']:.1f} GFLOP at "
                     f"{roof['fma_gflops']:.0f} GFLOP/s"
                     f"{' (' + roof['fma_isa'] + ' FMA peak)' if roof.get('fma_isa') else ''}"
                     f" = {roof['gemm_seconds']:.2f} s + Adam "
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


# -- pictures ------------------------------------------------------------------------------
PLOTS = ("bench_speedup.png", "bench_roofline.png", "bench_epoch.png")


def plot(results, directory):
    """Writes the pictures of a run into `directory` (each at most 1600x1000 px): kernel
    speed relative to NumPy, the roofline chart, and the epochs; returns their paths."""
    from pathlib import Path

    from ..plots import _figure, _finish

    directory = Path(directory)
    paths = []
    for name, draw in zip(PLOTS, (_plot_speedup, _plot_roofline, _plot_epochs)):
        fig = draw(results, _figure)
        if fig is not None:
            paths.append(directory / name)
            _finish(fig, paths[-1])
    return paths


def _title(results):
    w = results["workload"]
    return (f"MLP {'-'.join(map(str, w['sizes']))}, batch {w['batch']}; "
            f"{results['machine']['cpu']}, ISA path {results['machine'].get('isa_path', '?')}")


def _impl_colors(results):
    impls = list(dict.fromkeys(r["impl"] for r in results["kernels"] + results["epochs"]))
    return {impl: f"C{i % 10}" for i, impl in enumerate(impls)}


def _geomean(values):
    import math

    return math.exp(sum(math.log(v) for v in values) / len(values))


def _plot_speedup(results, figure):
    """(a) Each kernel's speed relative to NumPy (= 1.0, log axis), grouped by kernel: the
    geometric mean over the kernel's cases, whiskers from the slowest to the fastest case."""
    rows = [r for r in results["kernels"] if r["vs_numpy"] and r["impl"] != "numpy"]
    if not rows:
        return None
    counts = sorted({r["threads"] for r in rows})
    kernels = sorted({r["kernel"] for r in rows})
    impls = list(dict.fromkeys(r["impl"] for r in rows))
    colors = _impl_colors(results)
    fig = figure(min(16, 4 + 5.5 * len(counts)), min(10, 2.2 + 0.42 * len(kernels) * max(1, len(impls) / 2)))
    axes = fig.subplots(1, len(counts), sharey=True, squeeze=False)[0]
    height = 0.8 / len(impls)
    for ax, threads in zip(axes, counts):
        for j, impl in enumerate(impls):
            ys, xs, lo, hi = [], [], [], []
            for i, kernel in enumerate(kernels):
                v = [r["vs_numpy"] for r in rows
                     if r["kernel"] == kernel and r["impl"] == impl and r["threads"] == threads]
                if v:
                    g = _geomean(v)
                    ys.append(i + (j - (len(impls) - 1) / 2) * height)
                    xs.append(g)
                    lo.append(max(0.0, g - min(v)))
                    hi.append(max(0.0, max(v) - g))
            ax.barh(ys, xs, height=height, color=colors[impl], label=impl, xerr=[lo, hi],
                    error_kw={"elinewidth": 0.8, "capsize": 1.5, "ecolor": "0.3"})
        ax.axvline(1.0, color="k", linewidth=1)
        ax.set_xscale("log")
        ratios = [r["vs_numpy"] for r in rows if r["threads"] == threads]
        _plain_log_ticks(ax.xaxis, max(ratios) / min(ratios))
        ax.set_yticks(range(len(kernels)), kernels)
        ax.invert_yaxis()
        ax.grid(axis="x", which="both", alpha=0.3)
        ax.set_xlabel("speed relative to the numpy backend (= 1.0; higher is faster)")
        ax.set_title(f"{threads} thread(s)")
    axes[-1].legend(loc="lower right", fontsize=8)
    fig.suptitle("kernel speed vs NumPy (geometric mean over each kernel's shapes; whiskers: "
                 "slowest to fastest shape)\n" + _title(results), fontsize=10)
    return fig


def _plain_log_ticks(axis, span):
    """Log-axis tick labels as plain numbers (0.5, 2, 10), with the 2s and 5s labelled too
    when the axis spans less than two decades (else they would crowd)."""
    import math

    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    if span < 100:
        axis.set_minor_formatter(FuncFormatter(
            lambda v, _: f"{v:g}" if round(v / 10 ** math.floor(math.log10(v))) in (2, 5) else ""))
    else:
        axis.set_minor_formatter(NullFormatter())


KERNEL_MARKERS = {"gemm": "o", "dense_forward": "s", "forward_backward": "D",
                  "adam_train_steps": "*"}  # every memory-bound kernel: "^"


def _plot_roofline(results, figure):
    """(b) The roofline: the measured FMA peak and triad bandwidth as the roof, every kernel
    case placed by its arithmetic intensity and achieved GFLOP/s, per contender."""
    best = results["peak"]["best"]
    rows = [r for r in results["kernels"] if not r["noise"]]
    if not rows or not best["fma_gflops"]:
        return None
    threads = max(r["threads"] for r in rows)
    rows = [r for r in rows if r["threads"] == threads]
    from .machine import best_of_table

    peak = best_of_table(best["fma_gflops"], threads)
    triad = best["triad_gbps"].get(threads, {})
    fig = figure(11, 7)
    ax = fig.subplots()
    xs = [r["intensity"] for r in rows]
    lo, hi = min(xs + [0.05]) / 2, max(xs + [peak / 10]) * 2
    import numpy as np

    grid = np.geomspace(lo, hi, 200)
    if triad:
        # the roof of the largest working set probed (memory), and of the smallest (cache)
        ends = dict.fromkeys([max(triad), min(triad)])
        for style, footprint in zip(("-", "--"), ends):
            gbps = triad[footprint]
            ax.plot(grid, np.minimum(peak, gbps * grid), color="k", linestyle=style, linewidth=1.2,
                    label=f"roof: FMA {peak:.0f} GFLOP/s, triad {gbps:.0f} GB/s "
                          f"over {_bytes(int(footprint))}")
    else:
        ax.axhline(peak, color="k", label=f"FMA peak {peak:.0f} GFLOP/s")
    colors = _impl_colors(results)
    for impl in dict.fromkeys(r["impl"] for r in rows):
        for kernel_kind in ("gemm", "dense_forward", "forward_backward", "adam_train_steps", None):
            pts = [r for r in rows if r["impl"] == impl and
                   (r["kernel"] == kernel_kind if kernel_kind else r["kernel"] not in KERNEL_MARKERS)]
            if pts:
                ax.scatter([r["intensity"] for r in pts], [r["gflops"] for r in pts],
                           color=colors[impl], marker=KERNEL_MARKERS.get(kernel_kind, "^"),
                           s=30, alpha=0.8, edgecolors="none")
    from matplotlib.lines import Line2D

    handles, _ = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color=colors[i], marker="o", linestyle="", label=i)
                for i in dict.fromkeys(r["impl"] for r in rows)]
    handles += [Line2D([], [], color="0.4", marker=m, linestyle="", label=k)
                for k, m in [*KERNEL_MARKERS.items(), ("element-wise, losses, optimizers", "^")]]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.set(xscale="log", yscale="log", xlim=(lo, hi),
           xlabel="arithmetic intensity (FLOPs per byte of least traffic)",
           ylabel="achieved GFLOP/s",
           title=f"roofline, {threads} thread(s): " + _title(results))
    ax.title.set_fontsize(10)
    ax.grid(which="both", alpha=0.25)
    return fig


def _plot_epochs(results, figure):
    """(c) Seconds per epoch of every backend and PyTorch variant, with the roofline."""
    rows = [r for r in results["epochs"] if not r["noise"]]
    if not rows:
        return None
    counts = sorted({r["threads"] for r in rows})
    colors = _impl_colors(results)
    fig = figure(min(16, 1 + 6 * len(counts)), 4.5)
    axes = fig.subplots(1, len(counts), squeeze=False)[0]
    for ax, threads in zip(axes, counts):
        mine = sorted((r for r in rows if r["threads"] == threads), key=lambda r: r["seconds"])
        ys = range(len(mine))
        ax.barh(ys, [r["seconds"] for r in mine], color=[colors[r["impl"]] for r in mine],
                xerr=[[max(0.0, r["seconds"] - r["spread"]["min"]) for r in mine],
                      [max(0.0, r["spread"]["max"] - r["seconds"]) for r in mine]],
                error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "0.3"})
        ax.set_yticks(list(ys), [r["impl"] for r in mine])
        ax.invert_yaxis()
        for y, r in zip(ys, mine):
            ax.text(r["spread"]["max"], y, f"  {r['seconds']:.2f} s", va="center", fontsize=8)
        roof = results.get("roofline", {}).get(threads)
        if roof:
            ax.axvline(roof["seconds"], color="k", linestyle="--", linewidth=1,
                       label=f"roofline {roof['seconds']:.2f} s")
            ax.legend(loc="upper right", fontsize=8)
        ax.set_xlim(0, 1.25 * max(r["spread"]["max"] for r in mine))
        ax.set_xlabel("seconds per 60,000-sample epoch (median; whiskers min-max)")
        ax.set_title(f"training epoch, {threads} thread(s)", fontsize=10)
    fig.suptitle(_title(results), fontsize=10)
    return fig
