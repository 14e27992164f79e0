"""MNIST from IDX files (gzip or raw), verified before anything is returned.

The package ships the four original files (src/fastmlp/data/mnist/); ``data_dir``, the
CLI's ``--data-dir`` or ``FASTMLP_DATA`` point at any folder holding the four standard
IDX files of an MNIST-format dataset (e.g. Fashion-MNIST).
"""
from __future__ import annotations

import gzip
import hashlib
import math
import os
import zlib
from pathlib import Path

import numpy as np

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "data" / "mnist"

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# MD5 of the uncompressed original files: checked for the bundled copy, whose content is known
BUNDLED_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension


class DatasetError(ValueError):
    """A dataset file is missing, corrupt, truncated or inconsistent."""


def _find(folder: Path, stem: str) -> Path:
    for candidate in (folder / (stem + ".gz"), folder / stem):
        if candidate.is_file():
            return candidate
    raise DatasetError(f"{folder / stem}[.gz] not found: an MNIST-format folder holds "
                       f"{', '.join(FILES.values())} (gzip or raw)")


# deflate cannot expand data more than ~1032:1; a header claiming more than that from the
# compressed file's size is refused before anything is inflated
MAX_DEFLATE_RATIO = 1032


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path, expected_magic=None, expected_md5=None) -> np.ndarray:
    """Reads one unsigned-byte IDX file into a uint8 array, checking its header and size.

    The header fixes how many bytes follow; the file's (or the compressed file's) size is
    checked against it before any data is read, and decompression stops right after it,
    so neither a lying header nor a decompression bomb makes this allocate more than the
    header's (plausible) size.
    """
    path, dims = Path(path), None
    try:
        with _open(path) as f:
            head, dims, payload = _read_header(path, f, expected_magic)
            _check_plausible_size(path, len(head) + payload, dims)
            data = f.read(payload)
            if len(data) < payload:
                raise DatasetError(f"{path}: truncated: {len(head) + len(data)} bytes, header "
                                   f"{dims} needs {len(head) + payload}")
            if f.read(1):
                raise DatasetError(f"{path}: has trailing bytes after the {len(head) + payload} "
                                   f"bytes its header {dims} needs")
    except DatasetError:
        raise
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise DatasetError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from exc
    except MemoryError:
        raise DatasetError(f"{path}: too large to load (header {dims})") from None
    if expected_md5 is not None:
        digest = hashlib.md5(head + data).hexdigest()
        if digest != expected_md5:
            raise DatasetError(f"{path}: checksum mismatch (md5 {digest}, expected {expected_md5})")
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def _read_header(path, f, expected_magic):
    """(the header's bytes, its dimensions, the number of data bytes they imply)."""
    head = f.read(4)
    if len(head) < 4:
        raise DatasetError(f"{path}: truncated: {len(head)} bytes, no IDX header")
    magic = int.from_bytes(head, "big")
    if expected_magic is not None and magic != expected_magic:
        raise DatasetError(f"{path}: wrong magic number 0x{magic:08x}, expected "
                           f"0x{expected_magic:08x}; not an IDX file of this kind")
    if magic >> 8 != 0x08:  # the third byte is the type code: 0x08 = unsigned byte
        raise DatasetError(f"{path}: IDX type 0x{(magic >> 8) & 0xff:02x} is not unsigned byte")
    ndim = magic & 0xFF
    head += f.read(4 * ndim)
    if ndim == 0 or len(head) < 4 + 4 * ndim:
        raise DatasetError(f"{path}: truncated header ({len(head)} bytes for {ndim} dimensions)")
    dims = tuple(int.from_bytes(head[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return head, dims, math.prod(dims)


def _check_plausible_size(path, expected, dims):
    size = path.stat().st_size
    if path.suffix != ".gz":
        if size != expected:
            what = "truncated" if size < expected else "has trailing bytes"
            raise DatasetError(f"{path}: {what}: {size} bytes, header {dims} needs {expected}")
    elif expected > size * MAX_DEFLATE_RATIO + 1024:
        raise DatasetError(f"{path}: truncated: {size} compressed bytes cannot hold the "
                           f"{expected} bytes its header {dims} needs")


def _load_split(folder: Path, images_stem: str, labels_stem: str, verify: bool):
    ipath, lpath = _find(folder, images_stem), _find(folder, labels_stem)
    images = read_idx(ipath, IMAGES_MAGIC, BUNDLED_MD5[images_stem] if verify else None)
    labels = read_idx(lpath, LABELS_MAGIC, BUNDLED_MD5[labels_stem] if verify else None)
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(f"{ipath} holds {images.shape[0]} images but {lpath} holds "
                           f"{labels.shape[0]} labels")
    x = images.reshape(images.shape[0], -1).astype(np.float32)
    x *= np.float32(1.0 / 255.0)
    return x, labels.astype(np.int64)


def load_mnist(data_dir=None):
    """Returns ``(x_train, y_train, x_test, y_test)``.

    Images are float32 in [0, 1] with shape (N, 784); labels are int64. ``data_dir``
    (default: ``$FASTMLP_DATA``, else the copy shipped with fastmlp) is any folder with the
    four standard IDX files, gzip-compressed or raw. Raises :class:`DatasetError` naming the
    file for a missing, corrupt or truncated file, or mismatched image and label counts.
    """
    if data_dir is None:
        data_dir = os.environ.get("FASTMLP_DATA") or None
    folder = BUNDLED_DIR if data_dir is None else Path(data_dir).expanduser()
    if not folder.is_dir():
        raise DatasetError(f"MNIST data folder {folder} does not exist")
    verify = folder.resolve() == BUNDLED_DIR
    x_train, y_train = _load_split(folder, FILES["train_images"], FILES["train_labels"], verify)
    x_test, y_test = _load_split(folder, FILES["test_images"], FILES["test_labels"], verify)
    return x_train, y_train, x_test, y_test
