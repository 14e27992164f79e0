"""Median-of-repeats timing with warm-up excluded."""
from __future__ import annotations

import math
import statistics
import time


def median_seconds(fn, repeats=5, min_sample=0.005, warmup=1):
    """Median wall time of one call of fn().

    `warmup` calls run first and are not timed (JIT compilation, first-touch page faults,
    lazily built packing buffers). Each of the `repeats` samples then times enough calls
    to last about `min_sample` seconds, so short kernels are not lost in timer resolution
    and loop overhead; the median of the samples ignores interruptions by other processes.
    """
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    number = max(1, math.ceil(min_sample / max(once, 1e-9)))
    samples = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)
