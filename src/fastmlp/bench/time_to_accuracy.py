"""Time to accuracy: the wall time from launching a training process to the end of its
first epoch whose test accuracy reaches a target (98.0% by default), the number a user
feels. fastmlp and PyTorch train the same recipe (fastmlp.recipes) on MNIST: 784-1024-512-10
relu, Glorot-normal weights and zero biases (the `fastmlp train` defaults), batch 128, Adam
with the recipe's rate and schedule, a new shuffle each epoch, the test set evaluated after
each epoch; no full pass over the training set.

Each contender runs in its own process (`python -m fastmlp.bench.time_to_accuracy --child
...`), which prints one JSON line per epoch and stops at the target; the parent starts the
clock just before launching it and stops it when that epoch's line arrives, so interpreter
start, imports, data loading and compilation count, as they do for the user.

PyTorch runs eagerly with its defaults (torch.optim.Adam, its own thread pool), the batches
indexed from tensors (no DataLoader), the same schedule function applied every
fastmlp.schedules.LR_EVERY steps.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

TARGET = 0.98
CONTENDERS = ("fastmlp", "torch")
MAX_EPOCHS = 10  # a constant-rate recipe stops here if it never reaches the target


# `fastmlp train`'s defaults for MNIST (a test keeps them equal to its parser's)
ACTIVATION, INIT, BATCH_SIZE = "relu", "xavier", 128


def _train_defaults():
    """The network and batch of `fastmlp train` on MNIST: (sizes, activation, init, batch)."""
    from ..arguments import SEED_SIZES, layer_sizes

    return layer_sizes(SEED_SIZES), ACTIVATION, INIT, BATCH_SIZE


def _epochs(recipe, max_epochs):
    """The run's length (what a schedule spans) and the epochs to run at most: a schedule
    spans the recipe's epochs; a constant rate can run until the target."""
    epochs = recipe.epochs if recipe.schedule is not None else max_epochs
    return epochs, min(epochs, max_epochs)


def _report(epoch, accuracy):
    print(json.dumps({"epoch": epoch + 1, "test_accuracy": accuracy}), flush=True)


def _mnist(train_samples):
    """MNIST, or only its first train_samples training samples (a smoke test's run)."""
    from ..datasets import load_mnist

    x, y, xt, yt = load_mnist()
    return (x[:train_samples], y[:train_samples], xt, yt) if train_samples else (x, y, xt, yt)


def _fastmlp_child(recipe, seed, target, max_epochs, backend, train_samples):
    from .. import MLP, train

    sizes, activation, init, batch_size = _train_defaults()
    x, y, xt, yt = _mnist(train_samples)
    model = MLP(sizes, activation=activation, init=init, seed=seed, backend=backend)

    epochs, last = _epochs(recipe, max_epochs)

    def log(epoch, history):
        _report(epoch, history.test_accuracy[-1])
        return history.test_accuracy[-1] >= target or epoch + 1 >= last  # stop at the target

    train(model, x, y, xt, yt, epochs=epochs, batch_size=batch_size,
          lr=recipe.lr, schedule=recipe.schedule, seed=seed, progress=False,
          eval_train=False, callbacks=[log])


def _torch_child(recipe, seed, target, max_epochs, threads, train_samples):
    import torch

    from ..schedules import LR_EVERY

    sizes, activation, init, batch_size = _train_defaults()
    if (activation, init) != ("relu", "xavier"):
        raise ValueError(f"the PyTorch contender builds relu / xavier networks, not "
                         f"{activation} / {init}")
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    x, y, xt, yt = (torch.from_numpy(a) for a in _mnist(train_samples))
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = torch.nn.Linear(n_in, n_out)
        torch.nn.init.xavier_normal_(linear.weight)
        torch.nn.init.zeros_(linear.bias)
        layers += [linear] + ([torch.nn.ReLU()] if i < len(sizes) - 2 else [])
    model = torch.nn.Sequential(*layers)
    base_lr = recipe.lr if recipe.lr is not None else 1e-3
    opt = torch.optim.Adam(model.parameters(), lr=base_lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    (epochs, last), n = _epochs(recipe, max_epochs), x.shape[0]
    steps = -(-n // batch_size)
    for epoch in range(last):
        model.train()
        order = torch.randperm(n)
        for s in range(steps):
            if recipe.schedule is not None and s % LR_EVERY == 0:
                for group in opt.param_groups:
                    group["lr"] = recipe.schedule(epoch + s / steps, base_lr, epochs)
            idx = order[s * batch_size:(s + 1) * batch_size]
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            accuracy = float((model(xt).argmax(1) == yt).float().mean())
        _report(epoch, accuracy)
        if accuracy >= target:
            return


def measure(contender, recipe="default", seed=0, threads=None, target=TARGET,
            max_epochs=MAX_EPOCHS, backend=None, train_samples=None, timeout=1800):
    """Runs one contender in a new process; returns {"epoch", "seconds", "reached",
    "accuracies", ...}: seconds from launch to the line of the first epoch at the target
    (or to the process's end when it never got there). train_samples trains on the first
    that many MNIST samples only (for a quick check of the machinery, not a measurement)."""
    if contender not in CONTENDERS:
        raise ValueError(f"unknown contender {contender!r}; known: {', '.join(CONTENDERS)}")
    cmd = [sys.executable, "-m", __name__, "--child", contender, "--recipe", recipe,
           "--seed", str(seed), "--target", repr(target), "--max-epochs", str(max_epochs)]
    if threads:
        cmd += ["--threads", str(threads)]
    if backend:
        cmd += ["--backend", backend]
    if train_samples:
        cmd += ["--train-samples", str(train_samples)]
    result = {"contender": contender, "recipe": recipe, "seed": seed, "threads": threads,
              "backend": backend, "target": target, "epoch": None, "seconds": None,
              "reached": False, "accuracies": []}
    start = time.perf_counter()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=_child_env(threads)) as proc:
        for line in proc.stdout:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict) or "test_accuracy" not in record:
                continue
            now = time.perf_counter() - start
            result["accuracies"].append(record["test_accuracy"])
            result["epoch"], result["seconds"] = record["epoch"], now
            if record["test_accuracy"] >= target:
                result["reached"] = True
                proc.kill()  # done: its teardown is no part of the time
                break
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    if proc.returncode and not result["reached"]:
        raise RuntimeError(f"{contender} ({recipe}) failed with exit code {proc.returncode}:\n"
                           f"{err.strip()[-2000:]}")
    if not result["reached"]:
        result["seconds"] = time.perf_counter() - start
    return result


def _child_env(threads):
    env = dict(os.environ)
    if threads:  # every backend and PyTorch's pool honour it
        env["FASTMLP_NUM_THREADS"] = str(threads)
    return env


def available_contenders():
    """fastmlp always; PyTorch when it is installed (it is never required)."""
    from .machine import torch_module

    return [c for c in CONTENDERS if c == "fastmlp" or torch_module() is not None]


def format_results(results, header_lines=()):
    lines = list(header_lines)
    lines.append(f"{'contender':<10} {'recipe':<8} {'seed':>4}  {'epoch':>5}  {'seconds':>8}  "
                 "test accuracy by epoch")
    for r in results:
        epoch = str(r["epoch"]) if r["reached"] else f">{r['epoch'] or 0}"
        accs = " ".join(f"{a:.4f}" for a in r["accuracies"])
        lines.append(f"{r['contender']:<10} {r['recipe']:<8} {r['seed']:>4}  {epoch:>5}  "
                     f"{r['seconds']:8.1f}  {accs}")
    return "\n".join(lines) + "\n"


def machine(threads):
    """The machine's description for the report and the JSON (CPU, ISA path, threads)."""
    from .. import backends
    from .machine import machine_info

    try:
        from .. import _cpp
        isa = _cpp.isa()
    except ImportError:
        isa = None
    return {**machine_info(), "isa": isa, "threads": threads,
            "default_backend": backends.default_backend_name()}


def machine_header(info, target):
    return [f"time to {target:.1%} test accuracy (launch to the end of that epoch), "
            f"one process per run",
            f"CPU {info['cpu']}, ISA path {info['isa'] or '-'}, threads {info['threads']}, "
            f"default backend {info['default_backend']}"]


def run_command(args):
    """`fastmlp bench --time-to-accuracy`: every contender and recipe, alternating."""
    contenders = available_contenders()
    if "torch" not in contenders:
        print("fastmlp bench: PyTorch is not installed; timing fastmlp only", file=sys.stderr)
    threads = args.threads[0] if args.threads else None
    from .machine import cpu_count
    threads = threads or cpu_count()
    recipes = args.recipes or ["default", "fast"]
    results = []
    for _ in range(args.tta_rounds):  # rounds alternate the contenders: load drifts alike
        for contender in contenders:
            for recipe in recipes:
                r = measure(contender, recipe, seed=args.seed, threads=threads,
                            target=args.target)
                if not args.no_progress:
                    print(format_results([r]).splitlines()[-1], file=sys.stderr, flush=True)
                results.append(r)
    info = machine(threads)
    document = json.dumps({"machine": info, "target": args.target, "results": results},
                          indent=1) + "\n"
    if args.json == "-":
        sys.stdout.write(document)
        return 0
    sys.stdout.write(format_results(results, machine_header(info, args.target)))
    if args.json:
        from ..atomic_write import atomic_write

        with atomic_write(args.json, "w") as f:
            f.write(document)
        print(f"wrote {args.json}")
    return 0


def add_arguments(p):
    """The options of `fastmlp bench --time-to-accuracy` (added to bench's parser)."""
    from ..recipes import RECIPES

    def recipe_list(text):
        names = [s.strip() for s in text.split(",") if s.strip()]
        unknown = [n for n in names if n not in RECIPES]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown recipe(s) {', '.join(unknown)}; "
                                             f"known: {', '.join(RECIPES)}")
        return names

    def accuracy(text):
        value = float(text)
        if not 0.0 < value <= 1.0:
            raise argparse.ArgumentTypeError(f"expected an accuracy in (0, 1], got {text!r}")
        return value

    g = p.add_argument_group("time to accuracy")
    g.add_argument("--time-to-accuracy", action="store_true",
                   help="instead of the kernel report: seconds from launch to the first "
                        "epoch at --target test accuracy, fastmlp and PyTorch (if installed), "
                        "each run in its own process")
    g.add_argument("--target", type=accuracy, default=TARGET,
                   help=f"test accuracy to reach (default {TARGET})")
    g.add_argument("--recipes", type=recipe_list,
                   help="comma-separated recipes (default: default,fast)")
    g.add_argument("--seed", type=int, default=0, help="the runs' seed (default 0)")
    g.add_argument("--tta-rounds", type=int, default=1, metavar="N",
                   help="rounds of every contender and recipe, alternating (default 1)")


def _child_main(argv):
    p = argparse.ArgumentParser(prog="python -m fastmlp.bench.time_to_accuracy")
    p.add_argument("--child", choices=CONTENDERS, required=True)
    p.add_argument("--recipe", default="default")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", type=float, default=TARGET)
    p.add_argument("--max-epochs", type=int, default=MAX_EPOCHS)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--backend", default=None)
    p.add_argument("--train-samples", type=int, default=None)
    args = p.parse_args(argv)
    from ..recipes import get_recipe

    recipe = get_recipe(args.recipe)
    if args.child == "fastmlp":
        if args.threads:
            from .. import backends
            backends.set_num_threads(args.threads)
        _fastmlp_child(recipe, args.seed, args.target, args.max_epochs, args.backend,
                       args.train_samples)
    else:
        _torch_child(recipe, args.seed, args.target, args.max_epochs, args.threads,
                     args.train_samples)
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
