"""What the benchmarks ran on: CPU, versions, NumPy's BLAS, and the CPU's measured peak.

The peak comes from the native probe fastmlp._probe (csrc/probe/): float32 FMA throughput
per ISA on 1 and N threads, and the bandwidth of a triad at a given working-set size, the
yardsticks for compute-bound and memory-bound kernels respectively.
"""
from __future__ import annotations

import os
import platform
import sys

import numpy as np

from ..backends.cpu_caches import cache_sizes

# OpenBLAS reads these at load time; set on some machines of this kind, they pick a slower
# kernel or block size than OpenBLAS would detect itself, which makes NumPy look slower
# than it is. Comparisons against NumPy run without them.
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_REEXEC_MARK = "FASTMLP_BENCH_CLEAN_BLAS"


def blas_overrides():
    """The BLAS-tuning variables set in this process's environment."""
    return {k: os.environ[k] for k in BLAS_OVERRIDES if k in os.environ}


def reexec_without_blas_overrides():
    """Restart this very command with the BLAS_OVERRIDES removed from its environment.

    NumPy has loaded OpenBLAS by now, so unsetting them in-process is too late; a new
    process with the same interpreter and arguments (sys.orig_argv) reads the clean
    environment. Returns only when there is nothing to remove.
    """
    found = blas_overrides()
    if not found or os.environ.get(_REEXEC_MARK):
        return
    env = {k: v for k, v in os.environ.items() if k not in BLAS_OVERRIDES}
    env[_REEXEC_MARK] = ",".join(f"{k}={v}" for k, v in found.items())  # reported later
    sys.stderr.write(f"fastmlp: restarting without {', '.join(found)} "
                     "(they slow NumPy's BLAS; comparisons run without them)\n")
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)


def removed_blas_overrides():
    """What reexec_without_blas_overrides removed, as 'NAME=value,...' ('' when nothing)."""
    return os.environ.get(_REEXEC_MARK, "")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_count():
    """CPUs this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def numpy_blas():
    """NumPy's BLAS as threadpoolctl sees it: library, version and the kernel it chose."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"internal_api": "unknown (install threadpoolctl)"}
    for lib in threadpool_info():
        if lib.get("user_api") == "blas" and "numpy" in lib.get("filepath", ""):
            return {k: lib.get(k) for k in ("internal_api", "version", "architecture",
                                            "threading_layer", "filepath")}
    return {"internal_api": "unknown (no BLAS found under numpy)"}


def torch_module():
    """torch if it is installed, else None (it is optional: a `bench` extra)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def bf16_matmul_engine():
    """How the cpp backend computes bfloat16 GEMMs: "amx" (AMX tiles), "avx512_bf16"
    (VDPBF16PS) or "emulated" (operands rounded to bfloat16 values, float32 microkernel);
    None when fastmlp._cpp is not importable."""
    try:
        from .. import _cpp
    except ImportError:
        return None
    return _cpp.bf16_matmul_engine()


def versions():
    from .._version import __version__

    out = {"python": platform.python_version(), "fastmlp": __version__, "numpy": np.__version__}
    try:
        import numba
        out["numba"] = numba.__version__
    except ImportError:
        out["numba"] = None
    torch = torch_module()
    out["torch"] = torch.__version__ if torch is not None else None
    blas = numpy_blas()
    out["numpy_blas"] = " ".join(str(blas.get(k)) for k in ("internal_api", "version", "architecture")
                                 if blas.get(k))
    if torch is not None:
        out["torch_blas"] = "mkl" if torch.backends.mkl.is_available() else "no mkl"
    return out


def machine_info():
    """The CPU, its caches, the cpp backend's ISA path, versions and the BLAS environment."""
    return {"cpu": cpu_model(), "cpus": cpu_count(), "platform": platform.platform(),
            "isa_path": isa_path(), "cache_bytes": cache_sizes(),
            "versions": versions(), "removed_env": removed_blas_overrides()}


def _probe():
    try:
        from .. import _probe
    except ImportError:
        return None
    return _probe


PROBE_ISAS = ("avx512", "avx2")


def fma_peak(isa, threads):
    """Measured float32 FMA GFLOP/s of `isa` on `threads` threads (None: no probe/ISA).
    Not cached: the machine's load changes, so a report probes before and after."""
    probe = _probe()
    if probe is None or not probe.cpu_supports(isa):
        return None
    return probe.fma_gflops(isa, threads)


def peak_table(thread_counts):
    """{isa: {threads: GFLOP/s}} for every ISA the CPU supports, at 1 and each count."""
    counts = sorted({1, *thread_counts})
    table = {}
    for isa in PROBE_ISAS:
        if fma_peak(isa, 1) is not None:
            table[isa] = {t: fma_peak(isa, t) for t in counts}
    return table


def best_of_table(table, threads):
    """The highest GFLOP/s any ISA of a peak_table reached on `threads` (None: none)."""
    values = [by_threads[threads] for by_threads in table.values() if threads in by_threads]
    return max(values) if values else None


def best_peak(threads):
    """The highest FMA GFLOP/s any ISA reaches on `threads` threads now (None: no probe)."""
    return best_of_table(peak_table([threads]), threads)


def bandwidth(nbytes, threads):
    """Triad GB/s over a working set of nbytes (None when the probe is not built)."""
    probe = _probe()
    return None if probe is None else probe.triad_gbps(int(nbytes), threads)


def isa_path():
    """The ISA path the cpp backend runs (e.g. "avx512"; FASTMLP_ISA can lower it)."""
    try:
        from .. import _cpp
    except ImportError:
        return "unknown (fastmlp._cpp not built)"
    return _cpp.isa()
