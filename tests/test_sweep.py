"""Sweeps: search spaces, and trials on joblib and on a real Dask LocalCluster that give
the serial run's results, each worker with its share of the cores (never an inherited
FASTMLP_NUM_THREADS)."""
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from fastmlp.sweep import grid_trials, random_trials, run_sweep
from fastmlp.sweep.trial import available_cores

GRID = {"lr": [1e-2, 3e-2], "optimizer": ["sgd", "adam"]}
SMALL = dict(dataset="circle", n_train=300, n_test=200, epochs=2, hidden=(16,))
SCORES = ("test_accuracy", "test_loss", "train_loss")


def _scores(rows):
    return [(r["lr"], r["optimizer"], *(r[k] for k in SCORES)) for r in rows]


def test_grid_and_random_spaces():
    assert grid_trials(GRID) == [{"lr": 1e-2, "optimizer": "sgd"}, {"lr": 1e-2, "optimizer": "adam"},
                                 {"lr": 3e-2, "optimizer": "sgd"}, {"lr": 3e-2, "optimizer": "adam"}]
    space = {"lr": ("loguniform", 1e-4, 1e-1), "optimizer": ["sgd", "adam"]}
    draws = random_trials(space, 50, seed=1)
    assert draws == random_trials(space, 50, seed=1)
    lrs = np.array([d["lr"] for d in draws])
    assert lrs.min() >= 1e-4 and lrs.max() <= 1e-1 and lrs.min() < 1e-3 < lrs.max()
    assert {d["optimizer"] for d in draws} == {"sgd", "adam"}
    with pytest.raises(ValueError, match="is a range"):
        grid_trials(space)
    with pytest.raises(ValueError, match="unknown sweep option"):
        run_sweep({"learning_rate": [0.1]}, **SMALL)


def test_joblib_workers_get_their_share_of_the_cores_not_the_inherited_count(monkeypatch):
    monkeypatch.setenv("FASTMLP_NUM_THREADS", "8")  # inherited by the loky workers
    serial = run_sweep(GRID, **SMALL, threads=max(1, available_cores() // 2))
    rows = run_sweep(GRID, **SMALL, n_jobs=2)
    assert [r["threads"] for r in rows] == [max(1, available_cores() // 2)] * 4
    assert _scores(rows) == _scores(serial)


def test_a_sweep_pins_the_callers_backend_and_matmul_precision_in_every_worker():
    """The joblib workers start with their own defaults; the serial run has this process's.
    Both must train with the caller's backend and precision, and the rows say which."""
    from fastmlp import backends

    before = backends.default_backend_name(), backends.get_matmul_precision()
    backends.set_backend("numpy")
    backends.set_matmul_precision("bfloat16")
    try:
        serial = run_sweep(GRID, **SMALL, threads=1)
        rows = run_sweep(GRID, **SMALL, n_jobs=2, threads=1)
    finally:
        backends.set_backend(before[0])
        backends.set_matmul_precision(before[1])
    for r in serial + rows:
        assert (r["backend"], r["matmul_precision"]) == ("numpy", "bfloat16")
    assert _scores(rows) == _scores(serial)


def test_dask_local_cluster_gives_the_serial_results_for_sweeps_and_grid_search(monkeypatch,
                                                                                tmp_path):
    distributed = pytest.importorskip("distributed")
    monkeypatch.setenv("FASTMLP_NUM_THREADS", "8")  # the worker processes inherit it
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        # numba: its pool ignores the OMP_NUM_THREADS that Dask's nanny sets
        rows = run_sweep(GRID, **SMALL, backend="numba", scheduler=client)
        grid_search = _grid_search_on(client)
        command_rows = _sweep_command(tmp_path, "--scheduler", cluster.scheduler_address,
                                      "--backend", "numba")
    share = max(1, available_cores() // 2)  # two single-slot workers on this host
    assert [r["threads"] for r in rows] == [share] * 4
    assert all(r["worker"].split(":")[1] != str(os.getpid()) for r in rows)
    serial = run_sweep(GRID, **SMALL, backend="numba", threads=share)
    assert _scores(rows) == _scores(serial)
    assert max(r["test_accuracy"] for r in rows) > 0.6
    assert [r["threads"] for r in command_rows] == [share] * 4
    assert [r["test_accuracy"] for r in command_rows] == [
        r["test_accuracy"] for r in run_sweep(GRID, **{**SMALL, "epochs": 1, "hidden": (8,),
                                                       "n_train": 200, "n_test": 100},
                                              backend="numba", threads=share)]
    serial_search = _grid_search_on(None)
    np.testing.assert_array_equal(grid_search.cv_results_["mean_test_score"],
                                  serial_search.cv_results_["mean_test_score"])


def _grid_search_on(client):
    """scikit-learn's GridSearchCV of fastmlp.MLPClassifier, on Dask's joblib backend when
    given a client (scikit-learn's own way to scale out), else serially."""
    sklearn = pytest.importorskip("sklearn")
    import joblib
    from sklearn.model_selection import GridSearchCV

    from fastmlp import MLPClassifier
    from fastmlp.datasets import load_toy

    x, y, _, _ = load_toy("circle", n_train=200, n_test=1)
    search = GridSearchCV(MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0),
                          {"learning_rate_init": [1e-2, 3e-2]}, cv=2,
                          n_jobs=1 if client is None else 2)
    with joblib.parallel_backend("dask" if client is not None else "sequential"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
        search.fit(x, y)
    return search


def _sweep_command(out_dir, *options):
    """Runs `fastmlp sweep` on the 2x2 grid (circle data); returns its JSON rows."""
    pytest.importorskip("matplotlib")
    out = out_dir / "sweep"
    r = subprocess.run([sys.executable, "-m", "fastmlp", "sweep", "--dataset", "circle",
                        "--n-train", "200", "--n-test", "100", "--epochs", "1", "--hidden", "8",
                        "--param", "lr=1e-2,3e-2", "--param", "optimizer=sgd,adam",
                        "--out", str(out), *options],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = json.loads((out / "sweep.json").read_text())
    assert len(rows) == 4 and {"threads", "worker", "test_accuracy"} <= set(rows[0])
    header = (out / "sweep.csv").read_text().splitlines()[0].split(",")
    assert {"lr", "optimizer", "test_accuracy", "threads"} <= set(header)
    assert (out / "sweep.png").stat().st_size > 1000
    return rows


def test_sweep_command_writes_the_table_and_the_plot(tmp_path):
    rows = _sweep_command(tmp_path, "--n-jobs", "1")
    assert [(r["lr"], r["optimizer"]) for r in rows] == [
        (1e-2, "sgd"), (1e-2, "adam"), (3e-2, "sgd"), (3e-2, "adam")]
