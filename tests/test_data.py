"""MNIST loading: the bundled copy, other folders, and every kind of bad file."""
import gzip
import shutil

import numpy as np
import pytest

from fastmlp.datasets import DatasetError, load_mnist, read_idx
from fastmlp.datasets.mnist import BUNDLED_DIR, FILES


def test_bundled_mnist_loads_with_the_documented_types(mnist):
    x, y, xt, yt = mnist
    assert x.shape == (60000, 784) and xt.shape == (10000, 784)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert 0.0 <= x.min() and x.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    assert y[:5].tolist() == [5, 0, 4, 1, 9]  # the well-known first training labels


def _write_idx(path, magic, dims, data, compress):
    raw = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims) + bytes(data)
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(raw)
    else:
        path.write_bytes(raw)


def _small_dataset(folder, n_train=6, n_test=4, compress=True, label_count=None):
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, label_count or n, dtype=np.uint8)
        _write_idx(folder / FILES[f"{split}_images"], 0x803, (n, 28, 28), images.tobytes(), compress)
        _write_idx(folder / FILES[f"{split}_labels"], 0x801, (labels.size,), labels.tobytes(), compress)


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
def test_any_folder_with_the_four_files_loads(tmp_path, compress):
    _small_dataset(tmp_path, compress=compress)
    x, y, xt, yt = load_mnist(tmp_path)
    assert x.shape == (6, 784) and xt.shape == (4, 784) and y.shape == (6,)


def test_fastmlp_data_env_variable_is_used(tmp_path, monkeypatch):
    _small_dataset(tmp_path)
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path))
    assert load_mnist()[0].shape == (6, 784)


def test_missing_folder_and_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path)


def test_wrong_magic_names_the_file(tmp_path):
    _small_dataset(tmp_path)
    # swap in a labels file where the images should be
    shutil.copy(tmp_path / "train-labels-idx1-ubyte.gz", tmp_path / "train-images-idx3-ubyte.gz")
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte.gz: wrong magic number 0x00000801"):
        load_mnist(tmp_path)


def test_truncated_file_names_the_file(tmp_path):
    _small_dataset(tmp_path, compress=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte: truncated"):
        load_mnist(tmp_path)


def test_truncated_gzip_stream_names_the_file(tmp_path):
    _small_dataset(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz"):
        load_mnist(tmp_path)


def test_corrupt_gzip_names_the_file(tmp_path):
    _small_dataset(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(b"this is not gzip data at all")
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte.gz: cannot read"):
        load_mnist(tmp_path)


def test_mismatched_counts_name_both_files(tmp_path):
    _small_dataset(tmp_path, label_count=5)
    with pytest.raises(DatasetError, match="holds 6 images but .*train-labels.* holds 5 labels"):
        load_mnist(tmp_path)


def test_header_only_file(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"\x00\x00")
    with pytest.raises(DatasetError, match="truncated"):
        read_idx(path)


def test_bundled_copy_is_checksummed(tmp_path, monkeypatch):
    # a copy of the bundled folder with one byte changed fails its known MD5
    fake = tmp_path / "mnist"
    shutil.copytree(BUNDLED_DIR, fake)
    raw = bytearray(gzip.decompress((fake / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    raw[100] = (raw[100] + 1) % 10
    (fake / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(raw)))
    monkeypatch.setattr("fastmlp.datasets.mnist.BUNDLED_DIR", fake.resolve())
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz: checksum mismatch"):
        load_mnist()
