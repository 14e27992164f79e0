"""The `fastmlp sweep` command: a grid or random search, its table and its plot."""
from __future__ import annotations

import argparse

from ..arguments import positive_int
from .results import plot_sweep, write_results
from .run import run_sweep
from .space import DISTRIBUTIONS
from .trial import OPTIONS


def _value(name, text):
    if name == "hidden":  # "128-64": two hidden layers
        return tuple(int(h) for h in text.split("-"))
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _param(text):
    """name=v1,v2,... (choices) or name=loguniform:low:high / uniform:low:high (a range)."""
    name, sep, values = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not values or name not in OPTIONS:
        raise argparse.ArgumentTypeError(
            f"expected NAME=V1,V2,... or NAME=loguniform:LOW:HIGH with NAME one of "
            f"{', '.join(OPTIONS)}; got {text!r}")
    kind, _, bounds = values.partition(":")
    if kind in DISTRIBUTIONS:
        try:
            low, high = (float(b) for b in bounds.split(":"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: expected {kind}:LOW:HIGH, got {values!r}")
        return name, (kind, low, high)
    return name, [_value(name, v.strip()) for v in values.split(",") if v.strip()]


def add_parser(subparsers):
    p = subparsers.add_parser(
        "sweep", help="grid or random search over training options, locally or on Dask",
        description="Trains one network per combination (grid) or draw (--random N) of the "
                    "--param values, on joblib's local processes (--n-jobs) or a Dask "
                    "cluster (--scheduler), each trial with its share of the cores; writes "
                    "sweep.csv, sweep.json and sweep.png to --out.")
    p.add_argument("--param", type=_param, action="append", required=True, metavar="NAME=VALUES",
                   help="a swept option: lr=1e-3,1e-2  optimizer=sgd,adam  hidden=64,128-64  "
                        "or, with --random, lr=loguniform:1e-4:1e-1 (repeatable)")
    p.add_argument("--random", type=positive_int, metavar="N",
                   help="N random draws from the --param values instead of the full grid")
    p.add_argument("--dataset", default="mnist",
                   help="mnist (default) or a toy problem (circle, xor, gaussians, spirals)")
    p.add_argument("--n-train", type=positive_int, help="training rows (mnist: 2000, toy: 1000)")
    p.add_argument("--n-test", type=positive_int, help="test rows (mnist: 1000, toy: 500)")
    p.add_argument("--epochs", type=positive_int, default=3, help="epochs per trial (default 3)")
    p.add_argument("--hidden", type=lambda t: _value("hidden", t), default=(64,),
                   help="hidden sizes when not swept, e.g. 128-64 (default 64)")
    p.add_argument("--backend", help="numpy, numba or cpp (default: the fastest)")
    p.add_argument("--n-jobs", type=positive_int, default=2,
                   help="trials at once on local processes (default 2)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on the Dask cluster at this scheduler (tcp://host:8786)")
    p.add_argument("--threads", type=positive_int,
                   help="threads per trial (default: its share of its machine's cores)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data and random search")
    p.add_argument("--out", default="sweep", help="folder for the table and plot (default ./sweep)")
    p.add_argument("--plot-x", help="option on the plot's x axis (default lr if swept)")
    p.add_argument("--plot-group", help="one line per value of this option (default optimizer)")
    return p


def run_command(args):
    space = dict(args.param)
    fixed = {"epochs": args.epochs, "hidden": args.hidden}
    if args.backend:
        fixed["backend"] = args.backend
    search = {"random": space, "n_trials": args.random} if args.random else {"grid": space}
    rows = run_sweep(**search, dataset=args.dataset, n_train=args.n_train, n_test=args.n_test,
                     data_seed=args.seed, search_seed=args.seed, n_jobs=args.n_jobs,
                     scheduler=args.scheduler, threads=args.threads,
                     **{k: v for k, v in fixed.items() if k not in space})
    names = list(space)
    print(f"{'trial':>5}  " + "  ".join(f"{n:>12}" for n in names)
          + f"  {'test acc':>9}  {'threads':>7}  worker")
    for r in rows:
        cells = "  ".join(f"{str(r[n]):>12}" for n in names)
        print(f"{r['trial']:>5}  {cells}  {r['test_accuracy']:>9.4f}  {r['threads']:>7}  "
              f"{r['worker']}")
    for path in (*write_results(rows, args.out), plot_sweep(rows, f"{args.out}/sweep.png",
                                                            x=args.plot_x, group=args.plot_group)):
        print(f"wrote {path}")
    return 0
