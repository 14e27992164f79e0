"""Hyperparameter sweeps: a grid or random search over training options, run on joblib
locally or on a Dask cluster, into one results table and a plot.

    >>> from fastmlp.sweep import run_sweep
    >>> results = run_sweep({"lr": [1e-3, 1e-2], "optimizer": ["sgd", "adam"]},
    ...                     dataset="circle", epochs=3)

Each trial sets its process's threads to its share of the cores (see trial.py), so an
inherited FASTMLP_NUM_THREADS never oversubscribes; the count is in the results.
"""
from .results import plot_sweep, write_results
from .run import run_sweep
from .space import grid_trials, random_trials

__all__ = ["run_sweep", "grid_trials", "random_trials", "write_results", "plot_sweep"]
