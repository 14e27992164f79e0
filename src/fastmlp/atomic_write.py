"""Writing files so that a crash, kill or Ctrl-C never leaves a torn one.

Every file fastmlp writes (models, histories, plots, benchmark JSON) goes through
:func:`atomic_write`: the content is written to a temporary file in the target's folder,
flushed and fsync'd, then renamed over the target with ``os.replace`` (atomic on POSIX and
Windows within one file system). Whatever interrupts the write, the target holds either
its old content or the whole new content; the temporary file is removed unless the
process itself is killed, in which case a ``.<name>.<random>.tmp`` file may remain.
"""
from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

__all__ = ["atomic_write"]

_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation by the OS


@contextlib.contextmanager
def atomic_write(path, mode="wb", **open_kwargs):
    """Yields a file object open for writing; on a clean exit it replaces `path`.

    `mode` is "wb" or "w" (text; `open_kwargs` such as newline= or encoding= apply).
    If the body raises (KeyboardInterrupt included), `path` is left untouched.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes whole files: mode 'w' or 'wb', got {mode!r}")
    path = Path(path)
    folder = path.parent
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _keep_permissions(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _create_temporary(path):
    """A new file beside path, created as open() would (mode 0o666 less the umask)."""
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temporary file beside {path}")


def _keep_permissions(path, tmp):
    # a replaced file keeps its mode; a new one keeps the temporary file's (open()'s default)
    try:
        os.chmod(tmp, os.stat(path).st_mode & 0o7777)
    except OSError:
        pass


def _fsync_folder(folder):
    # the rename itself is durable only once the folder's entry is on disk (POSIX)
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_figure(fig, path, **savefig_kwargs):
    """fig.savefig(path, ...) through atomic_write (format from the suffix, else png)."""
    path = Path(path)
    fmt = savefig_kwargs.pop("format", None) or path.suffix[1:].lower() or "png"
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format=fmt, **savefig_kwargs)
    return path
