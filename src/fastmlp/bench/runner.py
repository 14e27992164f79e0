"""Runs a side-by-side benchmark and returns its results as plain data (JSON-ready).

Everything compared is measured in one process, on the same inputs, at the same thread
count, interleaved case by case (so a noisy moment hurts every contender alike): each
kernel case on every backend (and, for GEMMs, NumPy's matmul and PyTorch), then a slice of
a training epoch on every backend and in PyTorch.
"""
from __future__ import annotations

import datetime

from tqdm.auto import tqdm

from .. import backends
from ..backends import Backend
from . import machine
from .cases import MNIST_TRAIN_SAMPLES, kernel_cases
from .epoch import FastmlpEpoch, TorchEpoch, epoch_data
from .references import PYTORCH, gemm_references
from .timing import median_seconds


def set_threads(n, torch=None):
    """The same thread count for every contender: fastmlp's backends, NumPy's BLAS
    (through threadpoolctl, also when the numpy backend is not being measured), PyTorch."""
    backends.set_num_threads(n)
    Backend.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)


def _rate(case, seconds, threads):
    """(GFLOP/s or GB/s, % of this CPU's peak for that kind of work): the FMA peak, or the
    bandwidth of a triad over as many bytes as the kernel touches (same cache level)."""
    if case.memory_bound:
        rate, peak = case.nbytes / seconds / 1e9, machine.bandwidth(case.footprint, threads)
    else:
        rate, peak = case.flops / seconds / 1e9, machine.best_peak(threads)
    return rate, (100.0 * rate / peak if peak else None)


def run(workload, backend_names, thread_counts, kernels=None, epoch_steps=50, repeats=5,
        epoch_repeats=3, with_torch=True, progress=True, seed=0):
    """Benchmark `workload` on `backend_names` at each of `thread_counts`.

    `epoch_steps` batches of training are timed per epoch measurement (0 skips epochs) and
    scaled to a 60,000-sample epoch. Returns a dict; see fastmlp.bench.report for its use.
    """
    torch = machine.torch_module() if with_torch else None
    impls = {name: backends.get_backend(name) for name in backend_names}  # errors early
    cases, missing = kernel_cases(workload, kernels, seed=seed)
    n_refs = sum(len(gemm_references(c, torch)) for c in cases)
    n_epoch = (len(impls) + (torch is not None)) if epoch_steps else 0
    bar = tqdm(total=len(thread_counts) * (len(cases) * len(impls) + n_refs + n_epoch),
               desc="fastmlp bench", unit="run", leave=False, disable=not progress)

    kernel_rows, epoch_rows = [], []
    x = y = None
    if epoch_steps:
        x, y, source = epoch_data(workload, epoch_steps * workload.batch, seed)
    for threads in thread_counts:
        set_threads(threads, torch)
        for case in cases:
            contenders = [(name, lambda be=be, case=case: case.call(be), name == "numpy"
                           or case.kernel in be.native_kernels())
                          for name, be in impls.items()]
            contenders += [(name, fn, True) for name, fn in gemm_references(case, torch)]
            for name, fn, native in contenders:
                bar.set_postfix_str(f"{threads}t {case.kernel} {name}", refresh=False)
                seconds = median_seconds(fn, repeats=repeats)
                rate, pct = _rate(case, seconds, threads)
                kernel_rows.append({"kernel": case.kernel, "case": case.name, "impl": name,
                                    "native": native, "threads": threads, "seconds": seconds,
                                    "unit": "GB/s" if case.memory_bound else "GFLOP/s",
                                    "rate": rate, "pct_peak": pct})
                bar.update()
        if epoch_steps:
            trainers = [(name, lambda name=name: FastmlpEpoch(name, workload, seed)) for name in impls]
            if torch is not None:
                trainers.append((PYTORCH, lambda: TorchEpoch(workload, seed)))
            for name, make in trainers:
                bar.set_postfix_str(f"{threads}t epoch {name}", refresh=False)
                trainer = make()
                warm = 3 * workload.batch
                trainer(x[:warm], y[:warm])  # compile, allocate workspaces, fault in pages
                times = sorted(trainer(x, y) for _ in range(epoch_repeats))
                seconds = times[len(times) // 2] * MNIST_TRAIN_SAMPLES / x.shape[0]
                epoch_rows.append({"impl": name, "threads": threads, "seconds": seconds,
                                   "timed_samples": int(x.shape[0]), "data": source})
                bar.update()
    bar.close()
    _add_speedups(kernel_rows, ("kernel", "case", "threads"), {"numpy": "vs_numpy"})
    _add_speedups(epoch_rows, ("threads",), {"numpy": "vs_numpy", PYTORCH: "vs_torch"})

    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": machine.machine_info(),
        "peak": {"fma_gflops": machine.peak_table(thread_counts),
                 "probe": "fastmlp._probe" if machine.best_peak(1) else "not built"},
        "workload": {"sizes": list(workload.sizes), "batch": workload.batch,
                     "activation": workload.activation,
                     "epoch_gflop": workload.step_flops(MNIST_TRAIN_SAMPLES) / 1e9},
        "threads": list(thread_counts),
        "settings": {"repeats": repeats, "epoch_steps": epoch_steps,
                     "epoch_repeats": epoch_repeats, "epoch_samples": MNIST_TRAIN_SAMPLES},
        "missing_kernels": missing,
        "kernels": kernel_rows,
        "epochs": epoch_rows,
    }


def _add_speedups(rows, keys, baselines):
    """rows[i][column] = baseline's seconds / row's seconds, for rows sharing `keys`."""
    for impl, column in baselines.items():
        base = {tuple(r[k] for k in keys): r["seconds"] for r in rows if r["impl"] == impl}
        for r in rows:
            ref = base.get(tuple(r[k] for k in keys))
            r[column] = ref / r["seconds"] if ref else None
