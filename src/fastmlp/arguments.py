"""Command-line argument types shared by `fastmlp` and `fastmlp bench`."""
from __future__ import annotations

import argparse

SEED_SIZES = "784,1024,512,10"


def layer_sizes(text):
    """"784,1024,10" (or "784-1024-10") -> [784, 1024, 10]; at least two positive sizes."""
    try:
        sizes = [int(s) for s in text.replace("-", ",").split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be integers like {SEED_SIZES}, got {text!r}")
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"need at least two positive sizes, got {text!r}")
    return sizes


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value
