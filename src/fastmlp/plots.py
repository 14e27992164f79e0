"""Pictures of a training run: curves, gradient norms, misclassified digits, decision regions,
a regression's fitted curve.

matplotlib is an optional extra (``pip install fastmlp[plot]``). Figures are built on
matplotlib's object API with the Agg canvas, never pyplot, so plotting works headless and
leaves the caller's pyplot state alone. Each function returns the Figure, and writes it
to `path` when one is given.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .atomic_write import save_figure


def _figure(width, height):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("plotting needs matplotlib, an optional extra: "
                          "pip install fastmlp[plot]") from exc
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _finish(fig, path):
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_figure(fig, path)
    return fig


def _epochs(history):
    return np.arange(1, history.epochs + 1)


def _has(series):
    return len(series) > 0 and not np.all(np.isnan(np.asarray(series, dtype=float)))


def _epoch_axis(ax, history):
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if history.best_epoch is not None:
        ax.axvline(history.best_epoch + 1, color="0.5", linestyle=":", linewidth=1,
                   label=f"best epoch {history.best_epoch + 1} (restored)")


def plot_history(history, path=None, title=None):
    """Loss and accuracy per epoch: training, validation and test where measured."""
    fig = _figure(10, 4)
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = _epochs(history)
    for name, label, style in (("loss", "train", "-"), ("val_loss", "validation", "--"),
                               ("test_loss", "test", ":")):
        if _has(getattr(history, name)):
            ax_loss.plot(epochs, getattr(history, name), style, marker="o", markersize=3,
                         label=label)
    for name, label, style in (("batch_accuracy", "train batches", "-"),
                               ("train_accuracy", "train (full pass)", "-."),
                               ("val_accuracy", "validation", "--"),
                               ("test_accuracy", "test", ":")):
        if _has(getattr(history, name)):
            ax_acc.plot(epochs, getattr(history, name), style, marker="o", markersize=3,
                        label=label)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    if _has(history.loss) and np.nanmin(history.loss) > 0:
        ax_loss.set_yscale("log")
    for ax in (ax_loss, ax_acc):
        _epoch_axis(ax, history)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # a regression has no accuracy to plot
            ax.legend()
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def plot_gradient_norms(history, path=None, title=None):
    """Per-layer gradient norms (left) and weight norms (right) per epoch, log scale."""
    if not history.grad_norms or not history.grad_norms[0]:
        raise ValueError("this history has no gradient norms (train with norm_samples > 0)")
    fig = _figure(10, 4)
    ax_grad, ax_weight = fig.subplots(1, 2)
    epochs = _epochs(history)
    grads = np.asarray(history.grad_norms, dtype=float)
    weights = np.asarray(history.weight_norms, dtype=float)
    for layer in range(grads.shape[1]):
        ax_grad.plot(epochs, grads[:, layer], marker="o", markersize=3, label=f"layer {layer + 1}")
        if weights.ndim == 2:
            ax_weight.plot(epochs, weights[:, layer], marker="o", markersize=3,
                           label=f"layer {layer + 1}")
    ax_grad.set(xlabel="epoch", ylabel="||gradient|| (mean over sampled steps)",
                title="gradient norm per layer", yscale="log")
    ax_weight.set(xlabel="epoch", ylabel="||parameters||", title="weight norm per layer")
    for ax in (ax_grad, ax_weight):
        _epoch_axis(ax, history)
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def plot_comparison(histories, path=None, metric="test_accuracy", title=None):
    """One curve of `metric` per run, from a {label: History} mapping (e.g. per optimizer)."""
    fig = _figure(7, 4.5)
    ax = fig.subplots()
    for label, history in histories.items():
        series = getattr(history, metric)
        if not _has(series):
            raise ValueError(f"run {label!r} has no {metric}")
        ax.plot(_epochs(history), series, marker="o", markersize=3, label=label)
    ax.set(xlabel="epoch", ylabel=metric.replace("_", " "),
           title=title or metric.replace("_", " ") + " per epoch")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    return _finish(fig, path)


def _image_shape(features):
    side = math.isqrt(features)
    if side * side != features:
        raise ValueError(f"cannot show {features} features as a square image; pass image_shape")
    return side, side


def plot_misclassified(model, x, y, path=None, n=25, image_shape=None, title=None):
    """A grid of up to n misclassified samples (as images), titled true -> predicted."""
    predicted = model.predict(x)
    y = np.asarray(y)
    wrong = np.flatnonzero(predicted != y)
    shape = image_shape or _image_shape(x.shape[1])
    cols = max(1, min(int(math.ceil(math.sqrt(n))), len(wrong) or 1))
    shown = wrong[:n]
    rows = max(1, int(math.ceil(len(shown) / cols)))
    fig = _figure(1.6 * cols, 1.8 * rows + 0.4)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, i in zip(axes, shown):
        ax.imshow(np.asarray(x[i], dtype=float).reshape(shape), cmap="gray_r")
        ax.set_title(f"true {y[i]} → {predicted[i]}", fontsize=10, color="C3")
    accuracy = 1 - len(wrong) / max(len(y), 1)
    fig.suptitle(title or f"{len(wrong)} of {len(y)} misclassified (accuracy {accuracy:.4f}); "
                          f"first {len(shown)} shown")
    return _finish(fig, path)


def plot_decision_regions(model, x, y, path=None, resolution=300, title=None):
    """The model's predicted class over the plane (shaded) with the 2-D points on top."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"decision regions need 2-D inputs, got shape {x.shape}")
    pad = 0.1 * (x.max(axis=0) - x.min(axis=0) + 1e-9)
    lo, hi = x.min(axis=0) - pad, x.max(axis=0) + pad
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    grid = np.stack([g0.ravel(), g1.ravel()], axis=1).astype(model.dtype)
    regions = model.predict(grid).reshape(g0.shape)
    classes = model.n_classes
    fig = _figure(6, 5.5)
    ax = fig.subplots()
    levels = np.arange(classes + 1) - 0.5
    ax.contourf(g0, g1, regions, levels=levels, cmap="tab10", vmin=-0.5, vmax=9.5, alpha=0.25)
    ax.scatter(x[:, 0], x[:, 1], c=np.asarray(y), cmap="tab10", vmin=-0.5, vmax=9.5, s=8,
               edgecolors="none")
    accuracy = float(np.mean(model.predict(x) == np.asarray(y)))
    ax.set(xlabel="x1", ylabel="x2", aspect="equal",
           title=title or f"decision regions (accuracy on these points {accuracy:.4f})")
    return _finish(fig, path)


def plot_regression_fit(model, x, y, path=None, title=None):
    """A one-input regression: the data points and the model's curve over their range."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != 1:
        raise ValueError(f"a fitted curve needs one input feature, got shape {x.shape}")
    y = np.asarray(y).reshape(len(x), -1)
    grid = np.linspace(x.min(), x.max(), 400, dtype=model.dtype)[:, None]
    curve = model.predict(grid)
    fig = _figure(6, 4)
    ax = fig.subplots()
    for j in range(y.shape[1]):
        ax.scatter(x[:, 0], y[:, j], s=5, alpha=0.4, label="data" if j == 0 else None)
        ax.plot(grid[:, 0], curve[:, j], "r", linewidth=2, label="fit" if j == 0 else None)
    mse = float(np.mean((model.predict(np.ascontiguousarray(x, model.dtype)) - y) ** 2))
    ax.set(xlabel="x", ylabel="y", title=title or f"fitted curve (MSE on these points {mse:.4g})")
    ax.grid(alpha=0.3)
    ax.legend()
    return _finish(fig, path)


def save_training_plots(directory, history, model=None, x=None, y=None):
    """Writes every plot that fits the run into directory; returns the paths.

    curves.png and gradient_norms.png from the history; with a model and (test) data,
    decision_regions.png for 2-D inputs, else misclassified.png for square images; for a
    regression on one input, fit.png.
    """
    directory = Path(directory)
    paths = [directory / "curves.png"]
    plot_history(history, paths[-1])
    if history.grad_norms and history.grad_norms[0]:
        paths.append(directory / "gradient_norms.png")
        plot_gradient_norms(history, paths[-1])
    if model is not None and x is not None:
        if model.loss.regression:
            if x.shape[1] == 1:
                paths.append(directory / "fit.png")
                plot_regression_fit(model, x, y, paths[-1])
        elif x.shape[1] == 2:
            paths.append(directory / "decision_regions.png")
            plot_decision_regions(model, x, y, paths[-1])
        elif math.isqrt(x.shape[1]) ** 2 == x.shape[1]:
            paths.append(directory / "misclassified.png")
            plot_misclassified(model, x, y, paths[-1])
    return paths
