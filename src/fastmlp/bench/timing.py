"""Timing with warm-up excluded: samples of one call, their median and spread."""
from __future__ import annotations

import math
import statistics
import time


def timed_samples(fn, repeats=5, min_sample=0.005, warmup=1):
    """Wall times of one call of fn(), one per sample.

    `warmup` calls run first and are not timed (JIT compilation, first-touch page faults,
    lazily built packing buffers). Each of the `repeats` samples then times enough calls
    to last about `min_sample` seconds, so short kernels are not lost in timer resolution
    and loop overhead.
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
    return samples


def median_seconds(fn, repeats=5, min_sample=0.005, warmup=1):
    """Median of timed_samples: it ignores interruptions by other processes."""
    return statistics.median(timed_samples(fn, repeats, min_sample, warmup))


def spread(samples):
    """{"median", "q1", "q3", "min", "max", "n"} of a list of seconds (quartiles by the
    inclusive method: with few samples they stay within the samples measured)."""
    ordered = sorted(samples)
    if len(ordered) > 1:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return {"median": statistics.median(ordered), "q1": q1, "q3": q3,
            "min": ordered[0], "max": ordered[-1], "n": len(ordered)}
