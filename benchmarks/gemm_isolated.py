"""GEMM at the training shapes, each implementation timed in a process of its own.

In one process, the thread pools of OpenBLAS, the cpp backend's OpenMP, numba and PyTorch
all exist at once; a pool whose threads are still spin-waiting from the previous call takes
a core from the next contender, which makes 2-thread comparisons on a 2-core machine
meaningless. Here every (implementation, thread count) runs alone in a fresh process with
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset, rounds alternate between implementations, and
the table gives the median GFLOP/s over the rounds and the ratio to NumPy's matmul.

    python benchmarks/gemm_isolated.py [--threads 1,2] [--rounds 3] [--workload seed]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

IMPLS = ["NumPy matmul", "cpp", "numba", "PyTorch"]


def measure(impl, threads, workload):
    """Runs in the child process: {case name: GFLOP/s} for one implementation."""
    import fastmlp
    from fastmlp.bench.cases import WORKLOADS, kernel_cases
    from fastmlp.bench.references import numpy_matmul, torch_matmul
    from fastmlp.bench.timing import median_seconds

    fastmlp.get_backend("numpy")  # loaded, so set_num_threads limits NumPy's BLAS too
    fastmlp.set_num_threads(threads)
    torch = None
    if impl == "PyTorch":
        import torch
        torch.set_num_threads(threads)
    cases, _ = kernel_cases(WORKLOADS[workload], ["gemm"])
    result = {}
    for case in cases:
        if impl == "NumPy matmul":
            fn = numpy_matmul(case)
        elif impl == "PyTorch":
            fn = torch_matmul(case, torch)
        else:
            backend = fastmlp.get_backend(impl)
            fn = lambda case=case: case.call(backend)  # noqa: E731
        result[case.name] = case.flops / median_seconds(fn, repeats=7, warmup=20) / 1e9
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workload", default="seed", choices=["seed", "small"])
    parser.add_argument("--child", nargs=2, metavar=("IMPL", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]), args.workload)))
        return
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    impls = [i for i in IMPLS if i != "PyTorch" or _has_torch()]
    for threads in [int(t) for t in args.threads.split(",")]:
        runs = {impl: [] for impl in impls}
        for _ in range(args.rounds):
            for impl in impls:
                out = subprocess.run([sys.executable, __file__, "--workload", args.workload,
                                      "--child", impl, str(threads)], env=env, check=True,
                                     capture_output=True, text=True).stdout
                runs[impl].append(json.loads(out))
        cases = list(runs[impls[0]][0])
        print(f"\n{threads} thread(s), {args.workload} workload, median GFLOP/s of "
              f"{args.rounds} rounds (ratio to NumPy matmul)")
        print(f"{'case':38s}" + "".join(f"{i:>20s}" for i in impls))
        for case in cases:
            med = {i: statistics.median(r[case] for r in runs[i]) for i in impls}
            ref = med["NumPy matmul"]
            print(f"{case:38s}" + "".join(f"{med[i]:12.0f} ({med[i] / ref:4.2f})" for i in impls))


def _has_torch():
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        return False


if __name__ == "__main__":
    main()
