"""Benchmarks of fastmlp's backends, side by side with NumPy, PyTorch and the CPU's peak.

- cases:      the inputs of every kernel at the shapes of a training step (shared with
              the pytest-benchmark suite in benchmarks/)
- timing:     samples with warm-up excluded, their median and quartiles
- references: NumPy's matmul and PyTorch on the same arrays
- epoch:      timing training epochs in fastmlp and in PyTorch
- machine:    CPU, caches, ISA path, versions, NumPy's BLAS, the native peak probe
              (fastmlp._probe)
- worker:     one contender measured alone in its own process
- runner:     one side-by-side run (rounds of worker processes, peaks probed before and
              after, noise flagged, the epoch roofline) -> plain data
- report:     text table, JSON, pictures (speed vs NumPy, roofline, epochs)
- command:    the `fastmlp bench` subcommand
"""
from .command import add_parser, run_command

__all__ = ["add_parser", "run_command"]
