"""The CPU's data cache sizes as Linux reports them (sysfs), for blocking decisions and
for the machine line of every benchmark."""
from __future__ import annotations

import glob
import os


def cache_sizes():
    """{"L1d": bytes, "L2": ..., "L3": ...} of CPU 0 as Linux reports them (sysfs); {}
    elsewhere."""
    sizes = {}
    for index in sorted(glob.glob("/sys/devices/system/cpu/cpu0/cache/index[0-9]*")):
        try:
            with open(os.path.join(index, "level")) as f:
                level = f.read().strip()
            with open(os.path.join(index, "type")) as f:
                kind = f.read().strip()
            with open(os.path.join(index, "size")) as f:
                text = f.read().strip()
        except OSError:
            continue
        if kind == "Instruction":
            continue
        scale = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}.get(text[-1:], 1)
        try:
            sizes[f"L{level}{'d' if kind == 'Data' else ''}"] = int(text.rstrip("KMG")) * scale
        except ValueError:  # an unreadable size: that cache counts as unknown
            continue
    return sizes
