"""Files fastmlp writes are replaced whole or not at all, and cut files are not read silently."""
import math
import os
import random
import signal
import time

import numpy as np
import pytest

from fastmlp import MLP, History
from fastmlp.atomic_write import atomic_write


def _model(value):
    model = MLP([784, 1024, 10], seed=0, backend="numpy")  # 814,090 parameters: 3.3 MB
    model.params.fill(value)
    return model


def _kill_while_saving(path, seconds):
    """Forks a child that saves models of value 2 and 3 over `path` in a loop and SIGKILLs
    it `seconds` after it starts writing."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only file writes, then it is killed (never returns to pytest)
        try:
            os.close(ready_r)
            models = [_model(2.0), _model(3.0)]
            os.write(ready_w, b"x")
            for i in range(10_000):
                models[i % 2].save(path)
        finally:
            os._exit(0)
    os.close(ready_w)
    try:
        assert os.read(ready_r, 1) == b"x"
        time.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(ready_r)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_model_killed_mid_save_leaves_the_old_or_the_new_file(tmp_path):
    path = tmp_path / "model.npz"
    _model(1.0).save(path)
    rng = random.Random(0)
    seen = set()
    for trial in range(24):
        _kill_while_saving(path, rng.uniform(0.0, 0.08))
        loaded = MLP.load(path, backend="numpy")  # raises on a torn file
        values = np.unique(loaded.params)
        assert values.size == 1 and values[0] in (1.0, 2.0, 3.0), f"trial {trial}: {values}"
        seen.add(float(values[0]))
    assert len(seen) >= 2  # the kills did land while new files were being written
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "model.npz"]
    assert all(name.startswith(".model.npz.") and name.endswith(".tmp") for name in leftovers)


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(path, "w") as f:
            f.write("half of the new")
            raise KeyboardInterrupt
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "m.npz"
    _model(1.0).save(path)
    os.chmod(path, 0o640)
    _model(2.0).save(path)
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_save_adds_npz_like_numpy_did(tmp_path):
    MLP([3, 2], seed=0).save(tmp_path / "m")
    assert (tmp_path / "m.npz").is_file()


def _history():
    h = History()
    for e in range(3):
        h.loss.append(4.5 + e)
        for name in ("train_accuracy", "test_loss", "test_accuracy", "val_loss",
                     "val_accuracy", "lr", "seconds"):
            getattr(h, name).append(0.25 * e + 0.125)
        h.grad_norms.append([1.5, 2.5])
        h.weight_norms.append([3.5, 4.5])
    return h


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_a_history_cut_short_is_refused(tmp_path, suffix):
    path = tmp_path / f"h{suffix}"
    _history().save(path)
    whole = path.read_bytes()
    assert History.load(path).loss == [4.5, 5.5, 6.5]
    line_ends = {i + 1 for i, b in enumerate(whole) if b == ord("\n")}
    cut = tmp_path / f"cut{suffix}"
    for length in range(len(whole)):
        cut.write_bytes(whole[:length])
        if suffix == ".json" and length == len(whole) - 1:
            assert History.load(cut).loss == [4.5, 5.5, 6.5]  # only the last line break is gone
            continue
        if suffix == ".csv" and length in line_ends:
            # a cut exactly after a row is a shorter, well-formed history (whole epochs)
            assert History.load(cut).epochs < 3
            continue
        with pytest.raises(ValueError, match="not a fastmlp history file"):
            History.load(cut)


def test_a_history_csv_with_a_missing_field_or_epoch_is_refused(tmp_path):
    path = tmp_path / "h.csv"
    _history().save(path)
    lines = path.read_text().splitlines(keepends=True)
    (tmp_path / "gap.csv").write_text(lines[0] + lines[1] + lines[3])
    with pytest.raises(ValueError, match="epoch column"):
        History.load(tmp_path / "gap.csv")
    (tmp_path / "short.csv").write_text(lines[0] + lines[1].replace(",1.5", "", 1))
    with pytest.raises(ValueError, match="fields"):
        History.load(tmp_path / "short.csv")
    assert math.isnan(History.load(path).val_loss[0]) is False
