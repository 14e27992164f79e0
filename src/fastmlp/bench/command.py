"""`fastmlp bench`: the side-by-side report on the user's own CPU."""
from __future__ import annotations

import importlib.util
import sys

from .. import backends
from ..arguments import SEED_SIZES, layer_sizes, positive_int
from ..atomic_write import atomic_write
from ..backends import MATMUL_PRECISIONS
from . import machine, time_to_accuracy


def _names(text):
    return [s.strip() for s in text.split(",") if s.strip()]


def add_parser(subparsers):
    """Adds the `bench` subcommand to the `fastmlp` argument parser."""

    def thread_list(text):
        return [positive_int(t) for t in _names(text)]

    p = subparsers.add_parser(
        "bench", help="time every kernel and an epoch on each backend, against NumPy, "
                      "PyTorch and this CPU's peak",
        description="Times each kernel at the shapes of a training step, and a training "
                    "epoch, on every backend side by side (same data, same threads), with "
                    "NumPy's matmul, PyTorch (if installed) and this CPU's measured peak. "
                    "Each contender runs in its own process, in alternating rounds.")
    p.add_argument("--backends", type=_names,
                   help="comma-separated backends (default: every one that loads)")
    p.add_argument("--threads", type=thread_list,
                   help=f"comma-separated thread counts, e.g. 1,2 (default: {machine.cpu_count()}, "
                        "the CPUs available)")
    p.add_argument("--sizes", type=layer_sizes, default=layer_sizes(SEED_SIZES),
                   help=f"layer sizes, input to output (default {SEED_SIZES})")
    p.add_argument("--batch-size", type=positive_int, default=128)
    p.add_argument("--kernels", type=_names, help="comma-separated kernels (default: all)")
    p.add_argument("--repeats", type=positive_int, default=None,
                   help="timed samples per kernel and round (default 5)")
    p.add_argument("--rounds", type=positive_int, default=None,
                   help="rounds: each runs every contender once, in its own process, in an "
                        "order rotated from round to round; medians and quartiles are over "
                        "the samples of all rounds (default 3)")
    p.add_argument("--quick", action="store_true",
                   help="1 round, 1 sample, 2 epoch steps (unless given): shows that "
                        "everything runs; its figures are not to be trusted")
    p.add_argument("--keep-blas-env", action="store_true",
                   help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for the NumPy contenders "
                        "(default: their processes run without them, as the header says)")
    p.add_argument("--epoch-steps", type=int, default=50,
                   help="training steps timed per epoch measurement, scaled to a full "
                        "epoch; 0 skips epochs (default 50)")
    p.add_argument("--matmul-precision", choices=MATMUL_PRECISIONS, default=None,
                   help="precision of the fastmlp backends' float32 matmuls for the run "
                        "(default: $FASTMLP_MATMUL_PRECISION, else float32); with bfloat16, "
                        "PyTorch runs its bfloat16 autocast path, and backends without "
                        "bfloat16 (numba) are skipped, saying why")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if installed")
    p.add_argument("--json", nargs="?", const="-", metavar="FILE",
                   help="write the results as JSON to FILE (or stdout, instead of the table)")
    p.add_argument("--plot", metavar="DIR", help="write bench_speedup.png, bench_roofline.png "
                   "and bench_epoch.png into DIR (needs matplotlib)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    time_to_accuracy.add_arguments(p)
    return p


def run_command(args):
    from .cases import Workload
    from .report import format_text, plot, to_json
    from .runner import precision_skips, run

    if args.time_to_accuracy:  # whole training processes, not kernels
        return time_to_accuracy.run_command(args)
    quick = {"rounds": 1, "repeats": 1} if args.quick else {"rounds": 3, "repeats": 5}
    args.rounds, args.repeats = args.rounds or quick["rounds"], args.repeats or quick["repeats"]
    if args.quick:
        args.epoch_steps = min(args.epoch_steps, 2)
    names = args.backends or [n for n, ok in backends.available_backends().items() if ok]
    if args.plot and importlib.util.find_spec("matplotlib") is None:  # fail before timing
        raise ValueError("--plot needs matplotlib: pip install 'fastmlp[plot]'")
    unknown = [k for k in args.kernels or () if k not in backends.KERNELS]
    if unknown:
        raise ValueError(f"unknown kernel(s) {', '.join(unknown)}; known: {', '.join(backends.KERNELS)}")
    if args.epoch_steps < 0:
        raise ValueError(f"--epoch-steps must be >= 0, got {args.epoch_steps}")
    precision = args.matmul_precision or backends.get_matmul_precision()
    for name, reason in precision_skips(names, precision).items():  # said now, and in the report
        print(f"fastmlp bench: skipping {name}: {reason}", file=sys.stderr)
    results = run(Workload(tuple(args.sizes), args.batch_size), names,
                  args.threads or [machine.cpu_count()], kernels=args.kernels,
                  epoch_steps=args.epoch_steps, repeats=args.repeats, rounds=args.rounds,
                  epoch_repeats=1 if args.quick else 3, with_torch=not args.no_torch,
                  progress=not args.no_progress, matmul_precision=precision,
                  clean_blas_env=not args.keep_blas_env)
    if args.json == "-":
        sys.stdout.write(to_json(results) + "\n")
    else:
        sys.stdout.write(format_text(results))
        if args.json:
            with atomic_write(args.json, "w") as f:
                f.write(to_json(results) + "\n")
            print(f"wrote {args.json}")
    if args.plot:
        for path in plot(results, args.plot):
            print(f"wrote {path}", file=sys.stderr if args.json == "-" else sys.stdout)
    return 0
