"""What a training run measured, epoch by epoch, and its JSON / CSV files."""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

from .atomic_write import atomic_write

# per-epoch scalar series, in the order files list them
SCALARS = ("loss", "batch_accuracy", "train_accuracy", "test_loss", "test_accuracy", "val_loss",
           "val_accuracy", "lr", "seconds", "eval_seconds", "samples_per_second")
# per-epoch lists with one entry per layer
PER_LAYER = ("grad_norms", "weight_norms")


@dataclass
class History:
    """What each epoch of a run measured; lists are indexed by epoch.

    Two training accuracies: batch_accuracy is the running accuracy of the training
    batches' forward passes over the epoch (as Keras reports it: each batch measured before
    its update, so it trails the epoch's final weights), train_accuracy a full evaluation
    pass over the training set after the epoch (only with eval_train).
    Accuracies and losses are NaN where the run had no such data (no test set, no
    validation split, eval_train=False). grad_norms[e][l] is layer l's gradient norm (all
    of its parameters) averaged over sampled steps of epoch e, before the optimizer step;
    weight_norms[e][l] the norm of layer l's parameters at the end of epoch e.
    best_epoch is the (0-based) epoch whose weights early stopping restored, else None.
    """

    loss: list = field(default_factory=list)          # mean loss of the epoch's training batches
    batch_accuracy: list = field(default_factory=list)  # accuracy of those batches, as they passed
    train_accuracy: list = field(default_factory=list)  # full pass over the training set, or NaN
    test_accuracy: list = field(default_factory=list)  # NaN when no test data was given
    test_loss: list = field(default_factory=list)
    seconds: list = field(default_factory=list)        # wall time of the epoch's steps
    eval_seconds: list = field(default_factory=list)   # wall time of its evaluations after them
    samples_per_second: list = field(default_factory=list)  # training samples / seconds
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    lr: list = field(default_factory=list)             # learning rate at the epoch's start
    grad_norms: list = field(default_factory=list)
    weight_norms: list = field(default_factory=list)
    best_epoch: int | None = None

    @property
    def epochs(self):
        return len(self.loss)

    def as_dict(self):
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), list) else v)
                for f in fields(self)}

    # -- files ---------------------------------------------------------------------------
    def save(self, path):
        """Writes the history as JSON (.json) or CSV (.csv, one row per epoch)."""
        path = Path(path)
        kind = file_format(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "json":
            with atomic_write(path, "w") as f:
                f.write(json.dumps(_nan_to_none(self.as_dict()), indent=1) + "\n")
            return path
        layers = len(self.grad_norms[0]) if self.grad_norms else 0
        header = ["epoch", *SCALARS, *[f"{name[:-1]}_{l + 1}" for name in PER_LAYER
                                       for l in range(layers)]]
        with atomic_write(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            for e in range(self.epochs):
                row = [e + 1] + [_at(getattr(self, name), e) for name in SCALARS]
                for name in PER_LAYER:
                    row += _at(getattr(self, name), e, [math.nan] * layers)
                writer.writerow(row)
        return path

    @classmethod
    def load(cls, path):
        """Reads a history written by save() (JSON or CSV)."""
        path = Path(path)
        kind = file_format(path)
        try:
            if kind == "json":
                data = json.loads(path.read_text())
                known = {f.name for f in fields(cls)}
                if not isinstance(data, dict) or "loss" not in data:
                    raise ValueError("no 'loss' series")
                return cls(**{k: _none_to_nan(v) if isinstance(v, list) else v
                              for k, v in data.items() if k in known})
            with path.open(newline="") as f:
                text = f.read()
            header, rows = _csv_rows(text)
            history = cls()
            for name in SCALARS:
                setattr(history, name, [float(r.get(name) or "nan") for r in rows])
            for name in PER_LAYER:
                columns = sorted((c for c in header if c.startswith(name[:-1] + "_")),
                                 key=lambda c: int(c.rsplit("_", 1)[1]))
                setattr(history, name, [[float(r[c]) for c in columns] for r in rows]
                        if columns else [])
        except (OSError, ValueError, TypeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: not a fastmlp history file ({exc})") from exc
        return history


def _csv_rows(text):
    """(header, rows as dicts) of a history CSV, refusing a file cut short or edited out of shape:
    save() ends every row with a line break and numbers the epochs 1, 2, ..."""
    if not text.endswith("\n"):
        raise ValueError("truncated: the last line is incomplete")
    rows = list(csv.reader(text.splitlines()))
    if not rows or "loss" not in rows[0]:
        raise ValueError("no 'loss' column")
    header, rows = rows[0], rows[1:]
    for i, row in enumerate(rows, 1):
        if len(row) != len(header):
            raise ValueError(f"line {i + 1} has {len(row)} fields, the header {len(header)}")
    if "epoch" in header:
        epochs = [r[header.index("epoch")] for r in rows]
        if epochs != [str(e) for e in range(1, len(rows) + 1)]:
            raise ValueError("the epoch column does not count 1, 2, ...")
    return header, [dict(zip(header, r)) for r in rows]

def file_format(path):
    """'json' or 'csv' by the file's suffix; anything else is an error."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise ValueError(f"{path}: a history file ends in .json or .csv")
    return suffix[1:]


def _at(series, e, missing=math.nan):
    return series[e] if e < len(series) else missing


def _nan_to_none(value):
    # JSON has no NaN: write null, read it back as NaN
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_nan_to_none(v) for v in value]
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    return value


def _none_to_nan(value):
    if value is None:
        return math.nan
    if isinstance(value, list):
        return [_none_to_nan(v) for v in value]
    return value
