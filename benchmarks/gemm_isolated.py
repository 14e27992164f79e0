"""GEMM at the training shapes, each implementation timed in a process of its own.

In one process, the thread pools of OpenBLAS, the cpp backend's OpenMP, numba and PyTorch
all exist at once; a pool whose threads are still spin-waiting from the previous call takes
a core from the next contender, which makes 2-thread comparisons on a 2-core machine
meaningless. Here every (implementation, thread count) runs alone in a fresh process with
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset, rounds alternate between implementations, and
the table gives the median GFLOP/s over the rounds and the ratio to NumPy's (float32)
matmul.

Contenders (--impls, default all): float32 "NumPy matmul", "cpp", "numba", "PyTorch"
(torch.mm); bfloat16 "cpp bf16" (the cpp backend's gemm with matmul precision bfloat16:
operands rounded to bfloat16, float32 accumulation, float32 result; AMX tiles or emulated,
as fastmlp._cpp.bf16_matmul_engine() says) and "PyTorch bf16" (torch.matmul of the float32
tensors inside torch.autocast("cpu", dtype=torch.bfloat16), autocast's casts included;
bfloat16 result). Ratios of every column, the bfloat16 ones included, are to NumPy float32;
"cpp bf16 / PyTorch bf16" compares the two bfloat16 paths directly. FLOPs are 2*M*N*K for
every contender.

    python benchmarks/gemm_isolated.py [--threads 1,2] [--rounds 3] [--workload seed] [--repeats 7]
    python benchmarks/gemm_isolated.py --impls "cpp bf16,PyTorch bf16"     # just the bf16 pair
    FASTMLP_ISA=avx2 python benchmarks/gemm_isolated.py --numpy-coretype Haswell --impls "NumPy matmul,cpp"

--numpy-coretype sets OPENBLAS_CORETYPE for NumPy's process alone: with Haswell, an
AVX-512 CPU runs OpenBLAS's AVX2 kernel, as an AVX2-only CPU does; with FASTMLP_ISA=avx2
for cpp, both sides then run what an AVX2-only machine would.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

FLOAT32_IMPLS = ["NumPy matmul", "cpp", "numba", "PyTorch"]
BF16_IMPLS = ["cpp bf16", "PyTorch bf16"]
IMPLS = FLOAT32_IMPLS + BF16_IMPLS
BASELINE = "NumPy matmul"
BF16_PAIR = ("cpp bf16", "PyTorch bf16")


def measure(impl, threads, workload, repeats=7):
    """Runs in the child process: {"gflops": {case name: GFLOP/s}, "info": str} for one
    implementation (info: how it computed, e.g. the cpp bf16 engine)."""
    import fastmlp
    from fastmlp.bench.cases import WORKLOADS, kernel_cases
    from fastmlp.bench.references import numpy_matmul, torch_bf16_matmul, torch_matmul
    from fastmlp.bench.timing import median_seconds

    fastmlp.get_backend("numpy")  # loaded, so set_num_threads limits NumPy's BLAS too
    fastmlp.set_num_threads(threads)
    torch, info = None, ""
    if impl.startswith("PyTorch"):
        import torch
        torch.set_num_threads(threads)
        info = f"torch {torch.__version__}"
    backend = None
    if impl == "NumPy matmul":
        info = _numpy_blas_kernel()
    if impl in ("cpp", "numba", "cpp bf16"):
        backend = fastmlp.get_backend(impl.split()[0])
        # explicit, so that a backend without bfloat16 fails here instead of timing float32
        backend.set_matmul_precision("bfloat16" if impl.endswith("bf16") else "float32")
        info = f"matmul={backend.matmul_precision}"
        if impl.startswith("cpp"):
            info += f", isa={fastmlp._cpp.isa()}"
        if impl == "cpp bf16":
            info += f", engine={fastmlp._cpp.bf16_matmul_engine()}"
    cases, _ = kernel_cases(WORKLOADS[workload], ["gemm"])
    result = {}
    for case in cases:
        if impl == "NumPy matmul":
            fn = numpy_matmul(case)
        elif impl == "PyTorch":
            fn = torch_matmul(case, torch)
        elif impl == "PyTorch bf16":
            fn = torch_bf16_matmul(case, torch)
        else:
            fn = lambda case=case: case.call(backend)  # noqa: E731
        result[case.name] = case.flops / median_seconds(fn, repeats=repeats, warmup=20) / 1e9
    return {"gflops": result, "info": info}


def _numpy_blas_kernel():
    """"<library> <version>, <kernel> kernel" of NumPy's BLAS (fastmlp.bench.machine's
    reading of threadpoolctl), or why it cannot tell."""
    from fastmlp.bench.machine import numpy_blas

    blas = numpy_blas()
    if blas.get("version") is None:
        return blas["internal_api"]
    return f"{blas['internal_api']} {blas['version']}, {blas.get('architecture')} kernel"


def _impl_list(text):
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [n for n in names if n not in IMPLS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown implementation(s) {unknown}; choose from: "
                                         + ", ".join(IMPLS))
    return names


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workload", default="seed", choices=["seed", "small"])
    parser.add_argument("--repeats", type=int, default=7,
                        help="timed samples (>= 5 ms each) per case and round; median (default 7)")
    parser.add_argument("--impls", type=_impl_list, default=IMPLS,
                        help="comma-separated contenders (default: all): " + ", ".join(IMPLS))
    parser.add_argument("--numpy-coretype", metavar="NAME",
                        help="OPENBLAS_CORETYPE for the NumPy matmul process only (e.g. Haswell: "
                             "OpenBLAS's AVX2 kernel); default: unset, OpenBLAS picks for the CPU")
    parser.add_argument("--child", nargs=2, metavar=("IMPL", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]), args.workload, args.repeats)))
        return
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    impls = list(args.impls)
    if not _has_torch():
        for impl in [i for i in impls if i.startswith("PyTorch")]:
            print(f"{impl}: skipped (PyTorch is not installed)")
            impls.remove(impl)
    for threads in [int(t) for t in args.threads.split(",")]:
        runs = {impl: [] for impl in impls}
        infos, failed = {}, {}
        for _ in range(args.rounds):
            for impl in [i for i in impls if i not in failed]:
                proc = subprocess.run([sys.executable, __file__, "--workload", args.workload,
                                       "--repeats", str(args.repeats), "--child", impl,
                                       str(threads)], env=_child_env(env, impl, args),
                                      capture_output=True, text=True)
                if proc.returncode != 0:  # e.g. a cpp build without bfloat16: say why, go on
                    lines = proc.stderr.strip().splitlines()
                    failed[impl] = lines[-1] if lines else f"exit status {proc.returncode}"
                    continue
                out = json.loads(proc.stdout)
                runs[impl].append(out["gflops"])
                infos[impl] = out["info"]
        _print_table(threads, args, [i for i in impls if i not in failed], runs, infos)
        for impl, reason in failed.items():
            print(f"{impl}: failed, not measured: {reason}")


def _child_env(env, impl, args):
    """The environment of `impl`'s process: OPENBLAS_CORETYPE set for NumPy alone when asked."""
    if impl == BASELINE and args.numpy_coretype:
        return {**env, "OPENBLAS_CORETYPE": args.numpy_coretype}
    return env


def _print_table(threads, args, impls, runs, infos):
    if not impls:
        return
    has_base = BASELINE in impls
    pair = all(i in impls for i in BF16_PAIR)
    print(f"\n{threads} thread(s), {args.workload} workload, median GFLOP/s of {args.rounds} "
          "rounds" + (f" (ratio to {BASELINE}, float32, in every column, the bf16 ones "
                      "included)" if has_base else f" ({BASELINE} not run: no ratios)"))
    for impl in impls:
        if impl in BF16_IMPLS or infos.get(impl):
            print(f"  {impl}: {infos.get(impl, '')}"
                  + ("; bfloat16 operands, float32 accumulation and result" if impl == "cpp bf16"
                     else "; torch.autocast('cpu', dtype=torch.bfloat16) around torch.matmul "
                          "of float32 tensors (casts included), bfloat16 result"
                     if impl == "PyTorch bf16" else ""))
    width = 20
    print(f"{'case':38s}" + "".join(f"{i:>{width}s}" for i in impls)
          + (f"{' / '.join(BF16_PAIR):>26s}" if pair else ""))
    for case in runs[impls[0]][0]:
        med = {i: statistics.median(r[case] for r in runs[i]) for i in impls}
        cells = []
        for i in impls:
            ratio = f" ({med[i] / med[BASELINE]:4.2f})" if has_base else ""
            cells.append(f"{med[i]:.0f}{ratio}".rjust(width))
        line = f"{case:38s}" + "".join(cells)
        if pair:
            line += f"{med[BF16_PAIR[0]] / med[BF16_PAIR[1]]:26.2f}"
        print(line)


def _has_torch():
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        return False


if __name__ == "__main__":
    main()
