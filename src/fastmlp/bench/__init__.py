"""Benchmarks of fastmlp's backends, side by side with NumPy, PyTorch and the CPU's peak.

- cases:      the inputs of every kernel at the shapes of a training step (shared with
              the pytest-benchmark suite in benchmarks/)
- timing:     median-of-repeats timing, warm-up excluded
- references: NumPy's matmul and PyTorch on the same arrays
- epoch:      timing training epochs in fastmlp and in PyTorch
- machine:    CPU, versions, NumPy's BLAS, the native peak probe (fastmlp._probe)
- runner:     one side-by-side run -> plain data
- report:     text table, JSON, bar chart
- command:    the `fastmlp bench` subcommand
"""
from .command import add_parser, run_command

__all__ = ["add_parser", "run_command"]
