"""The `fastmlp` command: train, eval, plot, gradcheck, backends, bench, sweep."""
from __future__ import annotations

import argparse
import os
import sys

from . import backends as _backends
from . import bench as _bench
from ._version import __version__
from .arguments import SEED_SIZES, layer_sizes, positive_int
from .backends import MATMUL_PRECISIONS
from .datasets.toy import TOY_DATASETS, TOY_REGRESSION_DATASETS
from .finite import NonFiniteLossError
from .losses import LOSSES
from .model import DEFAULT_INIT, HIDDEN_ACTIVATIONS, INIT_ALIASES, INITS
from .optim import OPTIMIZERS
from .recipes import RECIPES
from .schedules import SCHEDULES
from .sweep import command as _sweep

def _add_runtime_options(p):
    p.add_argument("--backend", help="numpy, numba or cpp (default: $FASTMLP_BACKEND, "
                                     "else the fastest that loads)")
    p.add_argument("--threads", type=positive_int,
                   help="threads for every backend (default: $FASTMLP_NUM_THREADS)")
    p.add_argument("--data-dir", help="folder with the four MNIST IDX files "
                                      "(default: $FASTMLP_DATA, else the bundled copy)")


def _add_precision_option(p):
    # train and eval only: gradcheck compares float64 finite differences, where a bfloat16
    # matmul would be meaningless (and float64 is never rounded anyway)
    p.add_argument("--matmul-precision", choices=MATMUL_PRECISIONS, default=None,
                   help="precision of the float32 matmuls (default: "
                        "$FASTMLP_MATMUL_PRECISION, else float32); bfloat16 rounds both "
                        "GEMM operands to bfloat16 and accumulates in float32 "
                        "(numpy and cpp backends)")


def build_parser():
    parser = argparse.ArgumentParser(prog="fastmlp", description=__doc__)
    parser.add_argument("--version", action="version", version=f"fastmlp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train an MLP on MNIST, a 2-D toy problem or the "
                                     "polynomial y = 5x^2")
    t.add_argument("--dataset", default="mnist",
                   choices=["mnist", *TOY_DATASETS, *TOY_REGRESSION_DATASETS],
                   help="mnist (default), a seeded 2-D toy problem, or polynomial (regression)")
    t.add_argument("--sizes", type=layer_sizes, default=None,
                   help=f"layer sizes, input to output (default {SEED_SIZES} for mnist, "
                        "2,32,32,<classes> for toy data, 1,32,32,1 for polynomial)")
    t.add_argument("--activation", default="relu", choices=HIDDEN_ACTIVATIONS)
    t.add_argument("--init", default=DEFAULT_INIT, choices=[*INITS, *INIT_ALIASES],
                   help=f"weight initialization (default {DEFAULT_INIT}, as MLP's)")
    t.add_argument("--loss", default=None, choices=list(LOSSES),
                   help="cross_entropy (softmax; the default), mse (sigmoid outputs vs "
                        "one-hot), bce (one sigmoid output, two classes), squared_error "
                        "(regression; the default for polynomial)")
    t.add_argument("--recipe", default="default", choices=list(RECIPES),
                   help="; ".join(f"{r.name}: {r.description}" for r in RECIPES.values())
                   + " (--epochs, --lr and --schedule override its settings)")
    t.add_argument("--epochs", type=positive_int, default=None,
                   help="epochs (default: the recipe's, 5 for default and 3 for fast)")
    t.add_argument("--batch-size", type=positive_int, default=128)
    t.add_argument("--optimizer", default="adam", choices=list(OPTIMIZERS))
    t.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: the optimizer's; adam 1e-3, sgd 0.01, rmsprop 0.01)")
    t.add_argument("--momentum", type=float, default=None, help="sgd and rmsprop momentum")
    t.add_argument("--nesterov", action="store_true", help="Nesterov momentum (sgd)")
    t.add_argument("--alpha", type=float, default=None, help="rmsprop smoothing constant")
    t.add_argument("--weight-decay", type=float, default=None,
                   help="L2 penalty (adamw: decoupled decay, default 0.01)")
    t.add_argument("--dropout", type=float, default=0.0, help="drop probability of hidden units")
    t.add_argument("--batch-norm", action="store_true", help="batch norm on every hidden layer")
    t.add_argument("--val-split", type=float, default=None,
                   help="fraction of the training data held out for validation "
                        "(default 0, or 0.1 with --early-stopping)")
    t.add_argument("--early-stopping", type=positive_int, metavar="PATIENCE",
                   help="stop after PATIENCE epochs without a better validation loss; "
                        "the best weights are restored")
    t.add_argument("--schedule", choices=list(SCHEDULES), help="learning-rate schedule")
    t.add_argument("--step-size", type=positive_int, help="step schedule: epochs per decay")
    t.add_argument("--gamma", type=float, default=0.1, help="step schedule: decay factor")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--save", metavar="MODEL.npz", help="save the trained model here")
    t.add_argument("--history", metavar="FILE.json|FILE.csv", help="save the history here")
    t.add_argument("--plots", metavar="DIR", help="write curves, gradient norms and "
                   "misclassified digits / decision regions here (needs matplotlib)")
    t.add_argument("--eval-train", action="store_true",
                   help="after each epoch also evaluate the whole training set (train acc; "
                        "costs about a third of an epoch). Without it the epoch line shows "
                        "the running accuracy of the training batches (batch acc)")
    t.add_argument("--no-progress", action="store_true",
                   help="no progress bar (it is also off when stderr is not a terminal)")
    _add_runtime_options(t)
    _add_precision_option(t)

    e = sub.add_parser("eval", help="evaluate a saved model on a test set (MNIST by default)")
    e.add_argument("model", metavar="MODEL.npz")
    e.add_argument("--dataset", default="mnist", choices=["mnist", *TOY_DATASETS])
    e.add_argument("--seed", type=int, default=0, help="seed the toy data was trained with")
    _add_runtime_options(e)
    _add_precision_option(e)

    p = sub.add_parser("plot", help="plot a saved training history (curves, gradient norms)")
    p.add_argument("history", metavar="HISTORY.json|HISTORY.csv")
    p.add_argument("--out", "--output-dir", dest="out", metavar="DIR",
                   help="where the PNGs go (default: beside the history)")
    p.add_argument("--model", metavar="MODEL.npz", help="the trained model: adds misclassified "
                   "digits (or decision regions for toy data) on its test set")
    p.add_argument("--dataset", default="mnist", choices=["mnist", *TOY_DATASETS])
    p.add_argument("--seed", type=int, default=0, help="seed the toy data was trained with")
    p.add_argument("--data-dir", help="folder with the four MNIST IDX files "
                                      "(default: $FASTMLP_DATA, else the bundled copy)")

    g = sub.add_parser("gradcheck", help="check backprop against finite differences (float64)")
    g.add_argument("--sizes", type=layer_sizes, default=None,
                   help="layer sizes (default 5,7,6,3; last size 1 with --loss bce)")
    g.add_argument("--activation", default="tanh", choices=HIDDEN_ACTIVATIONS)
    g.add_argument("--loss", default="cross_entropy", choices=list(LOSSES))
    g.add_argument("--batch-norm", action="store_true")
    g.add_argument("--init", default=DEFAULT_INIT, choices=[*INITS, *INIT_ALIASES])
    g.add_argument("--batch-size", type=int, default=8)
    g.add_argument("--h", type=float, default=1e-6, help="finite-difference step")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--model", metavar="MODEL.npz", help="check a saved model's architecture "
                   "and parameters instead (dropout off)")
    g.add_argument("--backend", help="numpy, numba or cpp (float64 runs the NumPy kernels)")
    g.add_argument("--threads", type=positive_int, help="threads for every backend")

    sub.add_parser("backends", help="list backends, whether they load, and their native kernels")
    _bench.add_parser(sub)
    _sweep.add_parser(sub)
    return parser


def _setup(args):
    if args.threads is not None:
        _backends.set_num_threads(args.threads)
    precision = getattr(args, "matmul_precision", None)
    if precision is not None:  # before loading: the flag wins over $FASTMLP_MATMUL_PRECISION
        _backends.set_matmul_precision(precision)
    if args.backend is not None:
        _backends.set_backend(args.backend)
    backend = _backends.get_backend()
    if precision is not None:
        # asked for explicitly: a backend without it is an error, not a quiet float32
        backend.set_matmul_precision(precision)
    return backend


def _load_data(args):
    if args.dataset == "mnist":
        from .datasets import load_mnist

        return load_mnist(args.data_dir)
    from .datasets import load_toy

    return load_toy(args.dataset, seed=args.seed)


def _data_name(args):
    """What the data is, for headers: the toy problem, or the folder MNIST-format files
    were read from (Fashion-MNIST is MNIST-format too)."""
    if args.dataset != "mnist":
        return f"toy {args.dataset} (seed {args.seed})"
    folder = args.data_dir or os.environ.get("FASTMLP_DATA")
    return f"data in {folder}" if folder else "MNIST (bundled)"


def _check_data_fits(model, x, labels, name):
    """ValueError unless the model takes x's features and predicts as many classes as the
    label arrays `labels` (training and test) hold."""
    if x.shape[1] != model.sizes[0]:
        raise ValueError(f"the model takes {model.sizes[0]} features but {name} has {x.shape[1]}")
    classes = max(int(y.max()) + 1 for y in labels if len(y))
    if classes != model.n_classes:
        raise ValueError(f"the model predicts {model.n_classes} classes but {name} has "
                         f"{classes} (labels 0..{classes - 1})")


def _default_sizes(args, x, y):
    if args.dataset == "mnist":
        return layer_sizes(SEED_SIZES)
    if args.dataset in TOY_REGRESSION_DATASETS:
        return [x.shape[1], 32, 32, 1]
    return [x.shape[1], 32, 32, 1 if args.loss == "bce" else int(y.max()) + 1]


def _measured(series):
    return bool(series) and series[-1] == series[-1]  # not NaN


def format_epoch(epoch, h):
    """The epoch's line: training batches' loss and accuracy, the evaluations, the rate and
    the training and evaluation seconds apart. Accuracies that are NaN (regression has no
    classes to be right on; train acc without --eval-train) are left out."""
    parts = [f"epoch {epoch + 1:3d}", f"loss {h.loss[-1]:.4f}"]
    if _measured(h.batch_accuracy):
        parts.append(f"batch acc {h.batch_accuracy[-1]:.4f}")
    if _measured(h.train_accuracy):  # --eval-train: a full pass over the training set
        parts.append(f"train acc {h.train_accuracy[-1]:.4f}")
    for name, losses, accuracies in (("val", h.val_loss, h.val_accuracy),
                                     ("test", h.test_loss, h.test_accuracy)):
        if _measured(losses):
            parts.append(f"{name} loss {losses[-1]:.4f}" + (
                f"  {name} acc {accuracies[-1]:.4f}" if _measured(accuracies) else ""))
    parts += [f"lr {h.lr[-1]:.3g}", f"{h.samples_per_second[-1]:,.0f} samples/s",
              f"train {h.seconds[-1]:.2f} s", f"eval {h.eval_seconds[-1]:.2f} s"]
    return "  ".join(parts)


def _log_epoch(epoch, h):
    print(format_epoch(epoch, h), flush=True)


def cmd_train(args):
    import numpy as np

    from .model import MLP
    from .recipes import get_recipe
    from .schedules import StepLR, make_schedule
    from .train import train

    recipe = get_recipe(args.recipe)
    epochs = recipe.epochs if args.epochs is None else args.epochs
    backend = _setup(args)
    val_split = args.val_split
    if val_split is None:
        val_split = 0.1 if args.early_stopping else 0.0
    if args.history:
        from .history import file_format

        file_format(args.history)  # before training, not after
    if args.early_stopping and not val_split:
        raise ValueError("--early-stopping monitors the validation loss: give --val-split > 0")
    x, y, xt, yt = _load_data(args)
    if args.loss is None:
        args.loss = "squared_error" if args.dataset in TOY_REGRESSION_DATASETS else "cross_entropy"
    sizes = args.sizes or _default_sizes(args, x, y)
    if sizes[0] != x.shape[1]:
        raise ValueError(f"--sizes starts with {sizes[0]} but the data has {x.shape[1]} features")
    model = MLP(sizes, activation=args.activation, init=args.init, seed=args.seed,
                backend=backend, loss=args.loss, dropout=args.dropout,
                batch_norm=args.batch_norm)
    schedule = (StepLR(args.step_size, args.gamma) if args.schedule == "step"
                else make_schedule(args.schedule) if args.schedule else recipe.schedule)
    if recipe.lr is not None and args.lr is None and args.optimizer not in ("adam", "adamw"):
        raise ValueError(f"--recipe {recipe.name} sets Adam's learning rate; with --optimizer "
                         f"{args.optimizer} give --lr")
    lr = recipe.lr if args.lr is None else args.lr
    options = {"momentum": args.momentum, "nesterov": args.nesterov or None,
               "alpha": args.alpha}
    print(f"fastmlp: {model}, optimizer={args.optimizer}, "
          f"threads={_backends.get_num_threads() or 'default'}, "
          f"matmul={backend.matmul_precision}, recipe={recipe.name}; {_data_name(args)}: "
          f"{x.shape[0]} train{f' ({val_split:g} held out for validation)' if val_split else ''}"
          f" / {xt.shape[0]} test samples", flush=True)

    # the bar's carriage-return frames only make sense on a terminal, not in a log file
    progress = not args.no_progress and sys.stderr.isatty()
    # overflow warnings are noise here: a run that diverges stops with one clear error
    with np.errstate(over="ignore", invalid="ignore"):
        history = train(model, x, y, xt, yt, epochs=epochs, batch_size=args.batch_size,
                        lr=lr, optimizer=args.optimizer, weight_decay=args.weight_decay,
                        optimizer_options=options, val_split=val_split,
                        early_stopping=args.early_stopping, schedule=schedule, seed=args.seed,
                        progress=progress, eval_train=args.eval_train, log=_log_epoch)
    if history.best_epoch is not None:
        loss, acc = model.evaluate(xt, yt)
        print(f"early stopping: restored the weights of epoch {history.best_epoch + 1} "
              f"(val loss {history.val_loss[history.best_epoch]:.4f}); "
              f"test loss {loss:.4f}  test acc {acc:.4f}")
    if args.save:
        model.save(args.save)
        print(f"saved {args.save}")
    if args.history:
        history.save(args.history)
        print(f"saved {args.history}")
    if args.plots:
        from .plots import save_training_plots

        for path in save_training_plots(args.plots, history, model, xt, yt):
            print(f"wrote {path}")
    return 0


def cmd_plot(args):
    from pathlib import Path

    from .history import History
    from .plots import save_training_plots

    history = History.load(args.history)
    out = Path(args.out) if args.out else Path(args.history).resolve().parent
    model = xt = yt = None
    if args.model:
        from .model import MLP

        model = MLP.load(args.model)
        _, y, xt, yt = _load_data(args)
        _check_data_fits(model, xt, (y, yt), _data_name(args))
    for path in save_training_plots(out, history, model, xt, yt):
        print(f"wrote {path}")
    return 0


def cmd_gradcheck(args):
    from .gradcheck import DEFAULT_SIZES, gradient_check
    from .model import MLP

    backend = _setup(args)
    model = MLP.load(args.model, backend=backend) if args.model else None
    sizes = args.sizes or ((*DEFAULT_SIZES[:-1], 1) if args.loss == "bce" else DEFAULT_SIZES)
    report = gradient_check(sizes, activation=args.activation, loss=args.loss,
                            batch_norm=args.batch_norm, init=args.init,
                            batch_size=args.batch_size, seed=args.seed, h=args.h,
                            backend=backend, model=model)
    print(report.format())
    return 0 if report.passed else 1


def cmd_eval(args):
    from .model import MLP

    backend = _setup(args)
    model = MLP.load(args.model, backend=backend)
    _, y, xt, yt = _load_data(args)
    _check_data_fits(model, xt, (y, yt), _data_name(args))
    loss, acc = model.evaluate(xt, yt)
    print(f"{args.model}: {model}, matmul={backend.matmul_precision}; {_data_name(args)}\n"
          f"test loss {loss:.4f}  test accuracy {acc:.4f}")
    return 0


def cmd_backends(args):
    default = None
    try:
        default = _backends.default_backend_name()
    except _backends.BackendError as exc:
        print(f"default backend: error: {exc}")
    for name in _backends.backend_names():
        error = _backends.load_error(name)
        mark = " (default)" if name == default else ""
        if error:
            print(f"{name}{mark}: does not load: {error}")
            continue
        backend = _backends.get_backend(name)
        native = backend.native_kernels()
        fallback = [k for k in _backends.KERNELS if k not in native]
        print(f"{name}{mark}: loads [{backend.details()}]")
        for line in backend.detail_lines():
            print(f"  {line}")
        print(f"  native:   {', '.join(native) or '-'}")
        print(f"  fallback: {', '.join(fallback) or '-'} (NumPy)")
    return 0


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "plot": cmd_plot, "gradcheck": cmd_gradcheck,
            "backends": cmd_backends}
COMMANDS["bench"] = _bench.run_command
COMMANDS["sweep"] = _sweep.run_command


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ValueError, TypeError, OSError) as exc:
        # user-caused problems (bad names, files, hyperparameters): one clear line, exit 2
        print(f"fastmlp {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError as exc:  # e.g. --sizes far beyond this machine's memory
        print(f"fastmlp {args.command}: error: not enough memory ({exc})", file=sys.stderr)
        return 2
    except NonFiniteLossError as exc:  # a diverged run: nothing is saved, exit 1
        print(f"fastmlp {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:  # files being written are kept whole (atomic_write)
        print(f"fastmlp {args.command}: {str(exc) or 'interrupted'}", file=sys.stderr)
        return 130
