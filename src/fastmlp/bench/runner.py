"""Runs a side-by-side benchmark and returns its results as plain data (JSON-ready).

Everything compared is measured in one process, on the same inputs, at the same thread
count, interleaved case by case (so a noisy moment hurts every contender alike): each
kernel case on every backend (and, for GEMMs, NumPy's matmul and PyTorch), then a slice of
a training epoch on every backend and in PyTorch.

A run has one matmul precision for the fastmlp backends (set on each for the run, restored
after; a backend that does not offer it is skipped, with the reason in the results, never
timed in float32 under a bfloat16 label). With "bfloat16", PyTorch runs its bfloat16
autocast path (GEMMs and epochs) so it is compared like for like; NumPy's matmul stays
float32, the baseline.
"""
from __future__ import annotations

import contextlib
import datetime

from tqdm.auto import tqdm

from .. import backends
from ..backends import Backend
from ..backends.bfloat16 import backend_matmul_precision
from . import machine
from .cases import MNIST_TRAIN_SAMPLES, kernel_cases
from .epoch import FastmlpEpoch, TorchEpoch, epoch_data, torch_label
from .references import NUMPY_MATMUL, TORCH_BF16_NOTE, gemm_references
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
    """How PyTorch is run in a run of `matmul_precision`: (epoch label, description)."""
    if matmul_precision == "bfloat16":
        return (torch_label(autocast="bfloat16"),
                f"GEMMs: {TORCH_BF16_NOTE}; epochs: forward pass and loss under the same "
                "autocast, float32 weights, torch.optim.Adam defaults")
    return torch_label(), "float32 torch.mm; epochs: eager float32, torch.optim.Adam defaults"


def run(workload, backend_names, thread_counts, kernels=None, epoch_steps=50, repeats=5,
        epoch_repeats=3, with_torch=True, progress=True, seed=0, matmul_precision="float32"):
    """Benchmark `workload` on `backend_names` at each of `thread_counts`.

    `epoch_steps` batches of training are timed per epoch measurement (0 skips epochs) and
    scaled to a 60,000-sample epoch. The backends compute in `matmul_precision` for the
    run (restored afterwards); those that do not offer it are skipped (results["skipped"]
    says why), and ValueError if none is left. Returns a dict; see fastmlp.bench.report
    for its use.
    """
    skipped = precision_skips(backend_names, matmul_precision)
    names = [n for n in backend_names if n not in skipped]
    if not names:
        raise ValueError(f"no backend to run in matmul precision {matmul_precision}: "
                         + "; ".join(skipped.values()))
    with contextlib.ExitStack() as stack:
        for name in names:
            stack.enter_context(backend_matmul_precision(backends.get_backend(name), matmul_precision))
        results = _run(workload, names, thread_counts, kernels, epoch_steps, repeats,
                       epoch_repeats, with_torch, progress, seed, matmul_precision)
    results["backends"], results["skipped"] = names, skipped
    return results


def _run(workload, backend_names, thread_counts, kernels, epoch_steps, repeats, epoch_repeats,
         with_torch, progress, seed, matmul_precision):
    torch = machine.torch_module() if with_torch else None
    torch_name, torch_note = torch_reference(matmul_precision)
    impls = {name: backends.get_backend(name) for name in backend_names}  # errors early
    cases, missing = kernel_cases(workload, kernels, seed=seed)
    n_refs = sum(len(gemm_references(c, torch, matmul_precision)) for c in cases)
    n_epoch = (len(impls) + (torch is not None)) if epoch_steps else 0
    bar = tqdm(total=len(thread_counts) * (len(cases) * len(impls) + n_refs + n_epoch),
               desc="fastmlp bench", unit="run", leave=False, disable=not progress)

    # what each contender's matmuls compute in, as the backends report it themselves
    precisions = {name: be.matmul_precision for name, be in impls.items()}
    precisions.update({NUMPY_MATMUL: "float32", torch_name: matmul_precision})
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
            contenders += [(name, fn, True) for name, fn
                           in gemm_references(case, torch, matmul_precision)]
            for name, fn, native in contenders:
                bar.set_postfix_str(f"{threads}t {case.kernel} {name}", refresh=False)
                seconds = median_seconds(fn, repeats=repeats)
                rate, pct = _rate(case, seconds, threads)
                kernel_rows.append({"kernel": case.kernel, "case": case.name, "impl": name,
                                    "native": native, "precision": precisions[name],
                                    "threads": threads, "seconds": seconds,
                                    "unit": "GB/s" if case.memory_bound else "GFLOP/s",
                                    "rate": rate, "pct_peak": pct})
                bar.update()
        if epoch_steps:
            trainers = [(name, lambda name=name: FastmlpEpoch(name, workload, seed)) for name in impls]
            if torch is not None:
                autocast = "bfloat16" if matmul_precision == "bfloat16" else None
                trainers.append((torch_name, lambda: TorchEpoch(workload, seed, autocast=autocast)))
            for name, make in trainers:
                bar.set_postfix_str(f"{threads}t epoch {name}", refresh=False)
                trainer = make()
                warm = 3 * workload.batch
                with trainer.session():
                    trainer(x[:warm], y[:warm])  # compile, allocate workspaces, fault in pages
                    times = sorted(trainer(x, y) for _ in range(epoch_repeats))
                seconds = times[len(times) // 2] * MNIST_TRAIN_SAMPLES / x.shape[0]
                epoch_rows.append({"impl": name, "precision": precisions[name],
                                   "threads": threads, "seconds": seconds,
                                   "timed_samples": int(x.shape[0]), "data": source})
                bar.update()
    bar.close()
    _add_speedups(kernel_rows, ("kernel", "case", "threads"), {"numpy": "vs_numpy"})
    _add_speedups(epoch_rows, ("threads",), {"numpy": "vs_numpy", torch_name: "vs_torch"})

    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": machine.machine_info(),
        "peak": {"fma_gflops": machine.peak_table(thread_counts),
                 "probe": "fastmlp._probe" if machine.best_peak(1) else "not built"},
        "workload": {"sizes": list(workload.sizes), "batch": workload.batch,
                     "activation": workload.activation,
                     "epoch_gflop": workload.step_flops(MNIST_TRAIN_SAMPLES) / 1e9},
        "threads": list(thread_counts),
        "matmul_precision": matmul_precision,
        "bf16_matmul_engine": (machine.bf16_matmul_engine()
                               if matmul_precision == "bfloat16" and "cpp" in impls else None),
        "torch_reference": {"name": torch_name, "how": torch_note} if torch is not None else None,
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
