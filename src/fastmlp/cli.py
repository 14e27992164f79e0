"""The `fastmlp` command: train, eval, backends."""
from __future__ import annotations

import argparse
import sys

from . import backends as _backends
from . import bench as _bench

SEED_SIZES = "784,1024,512,10"


def _sizes(text):
    try:
        sizes = [int(s) for s in text.replace("-", ",").split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be integers like {SEED_SIZES}, got {text!r}")
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"need at least two positive sizes, got {text!r}")
    return sizes


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _add_runtime_options(p):
    p.add_argument("--backend", help="numpy, numba or cpp (default: $FASTMLP_BACKEND, "
                                     "else the fastest that loads)")
    p.add_argument("--threads", type=_positive_int,
                   help="threads for every backend (default: $FASTMLP_NUM_THREADS)")
    p.add_argument("--data-dir", help="folder with the four MNIST IDX files "
                                      "(default: $FASTMLP_DATA, else the bundled copy)")


def build_parser():
    parser = argparse.ArgumentParser(prog="fastmlp", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train an MLP on MNIST")
    t.add_argument("--sizes", type=_sizes, default=_sizes(SEED_SIZES),
                   help=f"layer sizes, input to output (default {SEED_SIZES})")
    t.add_argument("--activation", default="relu")
    t.add_argument("--init", default="he", choices=["he", "xavier"])
    t.add_argument("--epochs", type=int, default=5)
    t.add_argument("--batch-size", type=_positive_int, default=128)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--save", metavar="MODEL.npz", help="save the trained model here")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_runtime_options(t)

    e = sub.add_parser("eval", help="evaluate a saved model on the MNIST test set")
    e.add_argument("model", metavar="MODEL.npz")
    _add_runtime_options(e)

    sub.add_parser("backends", help="list backends, whether they load, and their native kernels")
    _bench.add_parser(sub)
    return parser


def _setup(args):
    if args.threads is not None:
        _backends.set_num_threads(args.threads)
    if args.backend is not None:
        _backends.set_backend(args.backend)
    return _backends.get_backend()


def cmd_train(args):
    from .datasets import load_mnist
    from .model import MLP
    from .train import train

    backend = _setup(args)
    x, y, xt, yt = load_mnist(args.data_dir)
    if args.sizes[0] != x.shape[1]:
        raise ValueError(f"--sizes starts with {args.sizes[0]} but the data has {x.shape[1]} features")
    model = MLP(args.sizes, activation=args.activation, init=args.init, seed=args.seed,
                backend=backend)
    print(f"fastmlp: {model}, threads={_backends.get_num_threads() or 'default'}; "
          f"{x.shape[0]} train / {xt.shape[0]} test samples", flush=True)

    def log(epoch, h):
        print(f"epoch {epoch + 1:3d}  loss {h.loss[-1]:.4f}  train acc {h.train_accuracy[-1]:.4f}"
              f"  test acc {h.test_accuracy[-1]:.4f}  {h.seconds[-1]:.2f} s", flush=True)

    train(model, x, y, xt, yt, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
          weight_decay=args.weight_decay, seed=args.seed, progress=not args.no_progress, log=log)
    if args.save:
        model.save(args.save)
        print(f"saved {args.save}")
    return 0


def cmd_eval(args):
    from .datasets import load_mnist
    from .model import MLP

    backend = _setup(args)
    model = MLP.load(args.model, backend=backend)
    _, _, xt, yt = load_mnist(args.data_dir)
    loss, acc = model.evaluate(xt, yt)
    print(f"{args.model}: {model}\ntest loss {loss:.4f}  test accuracy {acc:.4f}")
    return 0


def cmd_backends(args):
    from .backends import KERNELS

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
        fallback = [k for k in KERNELS if k not in native]
        print(f"{name}{mark}: loads [{backend.details()}]")
        print(f"  native:   {', '.join(native) or '-'}")
        print(f"  fallback: {', '.join(fallback) or '-'} (NumPy)")
    return 0


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "backends": cmd_backends}
COMMANDS["bench"] = _bench.run_command


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ValueError, TypeError, OSError) as exc:
        # user-caused problems (bad names, files, hyperparameters): one clear line, exit 2
        print(f"fastmlp {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
