"""Model files that are corrupt, truncated, lying about their sizes or holding NaN are refused
with ModelFileError (a ValueError) naming the file, before anything large is allocated."""
import io
import tracemalloc
import zipfile

import numpy as np
import pytest

from fastmlp import MLP
from fastmlp.model_file import ModelFileError


def _members(model):
    buf = io.BytesIO()
    model.save(buf)
    buf.seek(0)
    with np.load(buf) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture
def members():
    return _members(MLP([6, 5, 3], seed=0))


def _write(path, members, compressed=False):
    (np.savez_compressed if compressed else np.savez)(path, **members)
    return path


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_parameters_are_refused(tmp_path, members, bad):
    members["params"][7] = bad
    path = _write(tmp_path / "m.npz", members)
    with pytest.raises(ModelFileError, match=r"m\.npz: 1 of its 53 parameters are NaN or "
                                             r"infinite \(the first at flat index 7\)"):
        MLP.load(path)


def test_non_finite_batch_norm_statistics_are_refused(tmp_path):
    members = _members(MLP([6, 5, 3], seed=0, batch_norm=True))
    members["buffers"][0] = np.nan
    with pytest.raises(ModelFileError, match="batch-norm statistics are NaN"):
        MLP.load(_write(tmp_path / "m.npz", members))


@pytest.mark.parametrize("version", [np.float64(2.7), np.float64(2.0), np.int64(3),
                                     np.int64(0), np.array([2])])
def test_only_integer_format_versions_1_and_2_are_read(tmp_path, members, version):
    members["format_version"] = version
    with pytest.raises(ModelFileError):
        MLP.load(_write(tmp_path / "m.npz", members))


def test_a_small_file_claiming_huge_sizes_is_refused_before_allocating(tmp_path, members):
    members["sizes"] = np.array([8000, 8000], np.int64)  # 64 M parameters: 256 MB
    path = _write(tmp_path / "m.npz", members)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match="holds 53 params but its architecture "
                                                 "needs 64008000"):
            MLP.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20


def test_a_params_header_claiming_huge_sizes_is_refused_before_reading(tmp_path, members):
    path = _write(tmp_path / "m.npz", members)
    # rewrite the params member's .npy header to claim 2**40 entries
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    header = files["params.npy"]
    files["params.npy"] = header.replace(b"(53,)", b"(1099511627776,)".ljust(5), 1)
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    with pytest.raises(ModelFileError, match="needs 53"):
        MLP.load(path)


def test_a_truncated_file_is_a_model_file_error(tmp_path, members):
    path = _write(tmp_path / "m.npz", members)
    data = path.read_bytes()
    for length in (0, 10, len(data) // 2, len(data) - 30):
        cut = tmp_path / "cut.npz"
        cut.write_bytes(data[:length])
        with pytest.raises(ModelFileError, match=r"cut\.npz: "):
            MLP.load(cut)


def test_a_corrupt_deflate_stream_is_a_model_file_error(tmp_path, members):
    path = _write(tmp_path / "m.npz", members, compressed=True)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("params.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start:start + 40] = b"\xff" * 40  # garbage where the deflate stream begins
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"m\.npz: "):
        MLP.load(path)


def test_the_cli_prints_one_line_for_a_bad_model_file(tmp_path, members, capsys):
    from fastmlp.cli import main

    members["params"][0] = np.nan
    path = _write(tmp_path / "m.npz", members)
    assert main(["eval", str(path), "--dataset", "xor", "--backend", "numpy"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "NaN or infinite" in err and "Traceback" not in err
