"""Start-up cost of a backend: import, build the seed MLP, one epoch of 256 samples with evaluation.

    python benchmarks/startup.py numba                                # warm: numba's cache filled
    NUMBA_CACHE_DIR=$(mktemp -d) python benchmarks/startup.py numba   # cold: compiles everything
"""
import sys
import time

start = time.perf_counter()
import numpy as np  # noqa: E402

import fastmlp  # noqa: E402

backend = sys.argv[1] if len(sys.argv) > 1 else None
x = np.random.default_rng(0).random((256, 784), dtype=np.float32)
y = np.arange(256) % 10
model = fastmlp.MLP(seed=0, backend=backend)
fastmlp.train(model, x, y, x, y, epochs=1, batch_size=128, progress=False)
print(f"{model.backend.name}: {time.perf_counter() - start:.2f} s")
