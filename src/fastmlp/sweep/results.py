"""A sweep's results: one table (CSV and JSON) and a plot of a score against an option."""
from __future__ import annotations

import csv
import json
from pathlib import Path


def _columns(rows):
    columns = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    return columns


def _cell(value):
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value


def write_results(rows, out_dir, name="sweep"):
    """Writes rows to out_dir/name.csv and name.json; returns the two paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    columns = _columns(rows)
    csv_path, json_path = out / f"{name}.csv", out / f"{name}.json"
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k, "")) for k in columns})
    json_path.write_text(json.dumps(rows, indent=1, default=str) + "\n")
    return csv_path, json_path


def _numeric(values):
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def plot_sweep(rows, path, x=None, y="test_accuracy", group=None):
    """Plots y against option x (log scale when it spans a decade), one line per value of
    `group`. Defaults: x is "lr" if swept, else the first numeric option that varies;
    group is "optimizer" if swept, else the first other option that varies."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = {"trial", "test_accuracy", "test_loss", "train_loss", "epochs_run", "seconds",
              "threads", "worker", "backend"}
    varying = [c for c in _columns(rows) if c not in scores
               and len({repr(r.get(c)) for r in rows}) > 1]
    if x is None:
        numeric = [c for c in varying if _numeric([r.get(c) for r in rows])]
        x = "lr" if "lr" in numeric else (numeric[0] if numeric else "trial")
    if group is None:
        others = [c for c in varying if c != x]
        group = "optimizer" if "optimizer" in others else (others[0] if others else None)
    lines = {}
    for r in rows:
        lines.setdefault(repr(r.get(group)) if group else "", []).append((r[x], r[y]))
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, points in lines.items():
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], "o-",
                label=f"{group}={label.strip(chr(39))}" if group else None)
    xs = [r[x] for r in rows]
    if _numeric(xs) and min(xs) > 0 and max(xs) >= 10 * min(xs):
        ax.set_xscale("log")
    ax.set(xlabel=x, ylabel=y.replace("_", " "), title=f"sweep: {y.replace('_', ' ')} vs {x}")
    if group:
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
