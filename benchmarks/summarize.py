"""Side-by-side Markdown table of a pytest-benchmark JSON file: one row per group (thread
count, workload, kernel call), one column per contender, median times and GFLOP/s (or
GB/s), as docs/BENCHMARKS.md shows them.

    pytest benchmarks/ --benchmark-only --benchmark-json=bench.json
    python benchmarks/summarize.py bench.json
"""
from __future__ import annotations

import json
import sys


def _fmt(seconds):
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.2f} s"


def summarize(data):
    groups, contenders = {}, []
    for b in data["benchmarks"]:
        name = b["name"]
        if name not in contenders:
            contenders.append(name)
        info, median = b["extra_info"], b["stats"]["median"]
        # rated in bytes/s when memory-bound (older files: only "bytes" was recorded)
        by_bytes = info.get("memory_bound", not info.get("flops"))
        work = (info.get("bytes") if by_bytes else info.get("flops")) or 0
        unit = "GB/s" if by_bytes else "GFLOP/s"
        mark = "" if info.get("native", True) else " *"
        groups.setdefault(b["group"], {})[name] = f"{_fmt(median)}, {work / median / 1e9:.1f} {unit}{mark}"
    lines = ["| group | " + " | ".join(contenders) + " |",
             "| --- |" + " --- |" * len(contenders)]
    for group, row in groups.items():
        lines.append(f"| {group} | " + " | ".join(row.get(c, "-") for c in contenders) + " |")
    lines.append("\n\\* not native in that backend: the base class's NumPy version runs "
                 "(forward_backward: composed of the backend's own kernels)")
    return "\n".join(lines)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        print(summarize(json.load(f)))
