"""Inverted dropout from caller-drawn uniform noise."""
from __future__ import annotations

import numpy as np


def dropout(be, x, noise, p, out):
    np.multiply(x, noise >= p, out=out)
    out *= 1.0 / (1.0 - p)
