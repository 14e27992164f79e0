"""`fastmlp bench` where the native probe fastmlp._probe is not built (it is x86-64 only, so
on aarch64): the report says the peak is unknown and the run still succeeds."""
import json
import os
import subprocess
import sys

# makes `from fastmlp import _probe` raise ImportError, as when the module was never built
CODE = """
import sys
sys.modules["fastmlp._probe"] = None
from fastmlp.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_bench_runs_without_the_probe():
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTMLP_")}
    args = ["bench", "--backends", "numpy", "--kernels", "bias_grad", "--threads", "1",
            "--repeats", "1", "--epoch-steps", "0", "--no-torch", "--no-progress", "--json"]
    r = subprocess.run([sys.executable, "-c", CODE, *args], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    results = json.loads(r.stdout)
    # no peak probed before or after, so no row has a % of peak
    for when in ("before", "after"):
        assert results["peak"][when] == {"fma_gflops": {}, "triad_gbps": {}}
    assert all(row["pct_peak"] is None for row in results["kernels"])
    text = subprocess.run([sys.executable, "-c", CODE, *args[:-1]], capture_output=True,
                          text=True, env=env, timeout=300)
    assert text.returncode == 0, text.stderr
    assert "peak: unknown (the probe fastmlp._probe is not built" in text.stdout
