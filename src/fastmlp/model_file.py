"""Model files: a plain .npz (no pickle) written atomically and read defensively.

Reading checks every member's .npy header (shape and dtype) before its data is read, and
the parameter count the architecture implies before any model is allocated, so a small
file that claims huge sizes is refused without allocating anything. Parameters and batch
norm statistics must be finite. Every problem with the file is a :class:`ModelFileError`
naming it.
"""
from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .atomic_write import atomic_write

FORMAT_VERSION = 2  # 2 added loss, dropout, batch norm and its running statistics
READABLE_VERSIONS = (1, FORMAT_VERSION)
_MAX_LAYERS = 10_000  # far beyond any network; bounds what a `sizes` header may claim
_NUMBERS = "iuf"


class ModelFileError(ValueError):
    """A model file is missing, corrupt, truncated, inconsistent or holds non-finite numbers."""


def model_path(path):
    """Where np.savez would write: a str or Path without .npz gets the suffix."""
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def save_model(model, path):
    """Writes `model`'s architecture, parameters and running statistics to `path`."""
    c = model.config()
    members = dict(format_version=np.int64(FORMAT_VERSION),
                   sizes=np.asarray(c["sizes"], np.int64), activation=np.str_(c["activation"]),
                   init=np.str_(c["init"]), loss=np.str_(c["loss"]),
                   dropout=np.float64(c["dropout"]), batch_norm=np.bool_(c["batch_norm"]),
                   bn_momentum=np.float64(c["bn_momentum"]), bn_eps=np.float64(c["bn_eps"]),
                   params=model.params, buffers=model.buffers)
    if hasattr(path, "write"):  # an open file: the caller owns its atomicity
        np.savez(path, **members)
        return path
    path = model_path(path)
    with atomic_write(path, "wb") as f:
        np.savez(f, **members)
    return path


def parameter_count(sizes, batch_norm):
    """How many parameters MLP(sizes, batch_norm=...) holds (Python ints: no overflow)."""
    layers = list(zip(sizes[:-1], sizes[1:]))
    return sum(o * i + o + (o if batch_norm and k < len(layers) - 1 else 0)
               for k, (i, o) in enumerate(layers))


def load_model(cls, path, backend=None):
    """An instance of `cls` (MLP) rebuilt from the model file at `path`."""
    try:
        config, state = _read(path)
    except ModelFileError:
        raise
    except (OSError, KeyError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as exc:
        raise ModelFileError(f"{path}: not a fastmlp model file "
                             f"({type(exc).__name__}: {exc})") from exc
    except MemoryError:
        raise ModelFileError(f"{path}: too large to load") from None
    try:
        model = cls(seed=0, dtype=state["params"].dtype, backend=backend, **config)
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{path}: invalid architecture ({exc})") from exc
    model.set_state(state)
    return model


def _read(path):
    with np.load(path, allow_pickle=False) as f:
        if not isinstance(f, np.lib.npyio.NpzFile):
            raise ModelFileError(f"{path}: not a fastmlp model file (a single .npy array, "
                                 "not an .npz archive)")
        version = _scalar(f, "format_version", path, "iu")
        if int(version) not in READABLE_VERSIONS:
            raise ModelFileError(
                f"{path}: model format {version} is not supported (this fastmlp reads "
                f"formats {', '.join(map(str, READABLE_VERSIONS))})")
        version = int(version)
        sizes = _member(f, "sizes", path, _MAX_LAYERS, "iu")
        if sizes.ndim != 1:
            raise ModelFileError(f"{path}: sizes must be a list, got shape {sizes.shape}")
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ModelFileError(f"{path}: invalid layer sizes {sizes}")
        config = dict(sizes=sizes, activation=str(_scalar(f, "activation", path, "U")),
                      init=str(_scalar(f, "init", path, "U")))
        if version >= 2:
            config.update(loss=str(_scalar(f, "loss", path, "U")),
                          dropout=float(_scalar(f, "dropout", path, _NUMBERS)),
                          batch_norm=bool(_scalar(f, "batch_norm", path, "b" + _NUMBERS)),
                          bn_momentum=float(_scalar(f, "bn_momentum", path, _NUMBERS)),
                          bn_eps=float(_scalar(f, "bn_eps", path, _NUMBERS)))
        batch_norm = config.get("batch_norm", False)
        n_params = parameter_count(sizes, batch_norm)
        n_buffers = 2 * sum(sizes[1:-1]) if batch_norm else 0
        # member headers are checked against the architecture before their data is read
        params = _member(f, "params", path, n_params, "f", exact=n_params)
        buffers = (_member(f, "buffers", path, n_buffers, "f", exact=n_buffers)
                   if version >= 2 else np.zeros(0, params.dtype))
    for name, values in (("parameters", params), ("batch-norm statistics", buffers)):
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise ModelFileError(f"{path}: {bad.size} of its {values.size} {name} are NaN or "
                                 f"infinite (the first at flat index {bad[0]}); the model was "
                                 "saved after training diverged")
    return config, {"params": params, "buffers": buffers}


def _header(f, name, path):
    """(shape, dtype) from member `name`'s .npy header, without reading its data."""
    if name not in f.files:
        raise ModelFileError(f"{path}: not a fastmlp model file (no '{name}')")
    with f.zip.open(name + ".npy") as fp:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ModelFileError(f"{path}: '{name}' has .npy format {version}")
    return shape, dtype


def _member(f, name, path, max_items, kinds, exact=None):
    shape, dtype = _header(f, name, path)
    count = math.prod(shape)
    if dtype.kind not in kinds:
        raise ModelFileError(f"{path}: '{name}' has dtype {dtype}")
    if exact is not None and count != exact:
        raise ModelFileError(f"{path}: holds {count} {name} but its architecture needs {exact}")
    if count > max_items:
        raise ModelFileError(f"{path}: '{name}' claims {count} entries (at most {max_items})")
    return f[name]


def _scalar(f, name, path, kinds):
    value = _member(f, name, path, 1, kinds)
    if value.shape != ():
        raise ModelFileError(f"{path}: '{name}' must be a single value, got shape {value.shape}")
    if name == "format_version" or value.dtype.kind in "iub":
        return value[()]
    if value.dtype.kind == "f" and not np.isfinite(value):
        raise ModelFileError(f"{path}: '{name}' is {value[()]}")
    return value[()]
