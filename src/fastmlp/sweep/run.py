"""Running a sweep's trials: in this process, on joblib's local worker processes, or on a
Dask cluster, each trial with its share of its machine's cores.

The share is the cores a trial's machine offers divided by the trials running there at
once: n_jobs locally; on Dask, the task slots (nthreads) of all workers on that host. An
inherited FASTMLP_NUM_THREADS is replaced in every trial (see trial.run_trial), so worker
processes never oversubscribe the cores, numba's pool included.
"""
from __future__ import annotations

from .space import grid_trials, random_trials
from .trial import available_cores, check_options, run_trial, share_of_cores

DEFAULT_DATA = {"mnist": (2000, 1000), "toy": (1000, 500)}


def _run_local(trials, data, n_jobs, threads):
    concurrent = min(n_jobs, len(trials))
    if concurrent == 1:  # in this process: its own thread setting, else every core
        from ..backends import get_num_threads

        per_trial = threads or get_num_threads() or available_cores()
        return [run_trial(i, t, data, per_trial) for i, t in enumerate(trials)]
    per_trial = threads or share_of_cores(concurrent)
    from joblib import Parallel, delayed

    return Parallel(n_jobs=concurrent)(delayed(run_trial)(i, t, data, per_trial)
                                       for i, t in enumerate(trials))


def _on_worker(index, options, data, threads, slots_by_host):
    """A trial on a Dask worker: its threads are its host's cores over the host's slots."""
    if threads is None:
        from distributed import get_worker
        from distributed.comm import get_address_host

        slots = slots_by_host.get(get_address_host(get_worker().address), 1)
        threads = share_of_cores(slots)
    return run_trial(index, options, data, threads)


def _run_dask(trials, data, scheduler, threads):
    try:
        from distributed import Client
        from distributed.comm import get_address_host
    except ImportError as exc:
        raise ImportError('sweeps on a Dask cluster need distributed: '
                          'pip install "fastmlp[dask]"') from exc
    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        slots_by_host = {}
        for address, info in client.scheduler_info()["workers"].items():
            host = get_address_host(address)
            slots_by_host[host] = slots_by_host.get(host, 0) + int(info["nthreads"])
        if not slots_by_host:
            raise ValueError(f"the Dask cluster at {client.scheduler.address} has no workers")
        futures = [client.submit(_on_worker, i, t, data, threads, slots_by_host, pure=False)
                   for i, t in enumerate(trials)]
        return client.gather(futures)
    finally:
        if client is not scheduler:
            client.close()


def _pin_run_settings(options):
    """`options` with the backend and matmul precision this process would train with when
    they are not given: a trial in a worker process would otherwise take the worker's own
    defaults (its FASTMLP_BACKEND, FASTMLP_MATMUL_PRECISION) while a trial run here takes
    this process's (set_backend, set_matmul_precision), and the same sweep would give
    different bits depending on where it runs and what this process did before."""
    from ..backends import BackendError, default_backend_name, get_backend

    pinned = {**options, "backend": options.get("backend") or default_backend_name()}
    if not pinned.get("matmul_precision"):
        try:  # a backend that does not load here is left to the worker's default
            pinned["matmul_precision"] = get_backend(pinned["backend"]).matmul_precision
        except BackendError:
            pinned.pop("matmul_precision", None)
    return pinned


def run_sweep(grid=None, *, random=None, n_trials=10, dataset="mnist", n_train=None,
              n_test=None, data_seed=0, search_seed=0, n_jobs=1, scheduler=None,
              threads=None, **fixed):
    """Trains one network per trial and returns the results table as a list of rows.

    grid: name -> list of values, every combination is a trial; or random: name -> list
        of choices or ("uniform" | "loguniform", low, high), n_trials seeded draws
        (search_seed). Names are the options of fastmlp.train and MLP (see trial.OPTIONS:
        lr, optimizer, batch_size, epochs, hidden, activation, dropout, ...); `fixed`
        options apply to every trial.
    dataset: "mnist" (its first n_train / n_test images; default 2000 / 1000) or a toy
        problem (default 1000 / 500 points from data_seed).
    n_jobs: trials at once on joblib's local processes (1: in this process, with its
        thread setting); scheduler: a
        Dask scheduler address ("tcp://host:8786") or a distributed.Client to run on instead.
    threads: threads per trial (default: its share of its machine's cores).
    Each row holds the trial's options, test_accuracy, test_loss, train_loss, seconds,
    backend and matmul_precision (this process's defaults unless a trial names them, so
    workers train as a trial here would), threads (as the backend reports them) and worker
    (host:pid). Rows are in trial order; the same options give the same scores wherever
    they run, given the same backend, ISA path and thread count.
    """
    if (grid is None) == (random is None):
        raise ValueError("give either a grid or a random search space")
    trials = grid_trials(grid) if grid is not None else random_trials(random, n_trials,
                                                                       search_seed)
    trials = [{**fixed, **t} for t in trials]
    for t in trials:
        check_options(t)
    trials = [_pin_run_settings(t) for t in trials]
    if int(n_jobs) != n_jobs or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer, got {n_jobs!r}")
    if threads is not None and (int(threads) != threads or threads < 1):
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    sizes = DEFAULT_DATA["mnist" if dataset == "mnist" else "toy"]
    data = (dataset, int(n_train or sizes[0]), int(n_test or sizes[1]), int(data_seed))
    if scheduler is not None:
        return _run_dask(trials, data, scheduler, threads)
    return _run_local(trials, data, int(n_jobs), threads)


__all__ = ["run_sweep"]
