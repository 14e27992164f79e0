"""IDX reads are bounded by the header: no decompression bomb, no huge allocation, and every
unreadable file is a DatasetError naming it."""
import gzip
import os
import tracemalloc
import zlib

import pytest

from fastmlp.datasets import DatasetError, read_idx
from fastmlp.datasets.mnist import IMAGES_MAGIC


def _header(dims):
    return IMAGES_MAGIC.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_decompression_stops_at_the_size_the_header_implies(tmp_path):
    path = tmp_path / "bomb-idx3-ubyte.gz"
    zeros = gzip.compress(bytes(2**20), compresslevel=9)  # 1 MiB of zeros in ~1 KB
    with open(path, "wb") as f:
        f.write(gzip.compress(_header((10, 28, 28)) + bytes(10 * 28 * 28)))
        for _ in range(512):  # 512 more gzip members: half a gigabyte once inflated
            f.write(zeros)
    assert path.stat().st_size < 2**20

    def read():
        with pytest.raises(DatasetError, match="has trailing bytes"):
            read_idx(path, IMAGES_MAGIC)
    assert _peak_bytes(read) < 16 * 2**20


def test_a_gzip_too_small_for_its_header_is_refused_before_inflating(tmp_path):
    path = tmp_path / "claims-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(_header((2**31, 28, 28)) + bytes(100)))
    with pytest.raises(DatasetError, match="compressed bytes cannot hold"):
        read_idx(path, IMAGES_MAGIC)


def test_a_huge_sparse_raw_file_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "sparse-idx3-ubyte"
    with open(path, "wb") as f:
        f.write(_header((60000, 28, 28)))
        f.truncate(8 * 2**30)  # 8 GiB, sparse: nothing to read but zeros
    try:
        def read():
            with pytest.raises(DatasetError, match=r"has trailing bytes: 8589934592 bytes"):
                read_idx(path, IMAGES_MAGIC)
        assert _peak_bytes(read) < 2**20
    finally:
        os.unlink(path)


def test_a_raw_file_shorter_than_its_header_claims_is_refused_before_reading(tmp_path):
    path = tmp_path / "short-idx3-ubyte"
    path.write_bytes(_header((2**31, 2**31, 28)) + bytes(100))

    def read():
        with pytest.raises(DatasetError, match="truncated"):
            read_idx(path, IMAGES_MAGIC)
    assert _peak_bytes(read) < 2**20


def test_a_corrupt_deflate_block_is_a_dataset_error(tmp_path):
    payload = _header((3, 28, 28)) + os.urandom(3 * 28 * 28)
    # a raw deflate stream whose first block has the reserved type 3: zlib.error on inflate
    body = bytes([0x07]) + zlib.compress(payload)[2:]
    path = tmp_path / "corrupt-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(b"")[:10] + body)
    with pytest.raises(DatasetError, match=r"corrupt-idx3-ubyte\.gz: cannot read"):
        read_idx(path, IMAGES_MAGIC)
