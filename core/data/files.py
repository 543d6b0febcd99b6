"""Atomic file writes: a reader sees the old file or the complete new one, never a partial one."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = ["atomic_target", "write_atomic", "save_array_atomic"]


@contextmanager
def atomic_target(path: str | os.PathLike, *, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` when the block
    succeeds, removed when it fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it onto ``path``."""
    payload = data.encode() if isinstance(data, str) else data
    with atomic_target(path) as tmp, open(tmp, "wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    return Path(path)


def save_array_atomic(path: str | os.PathLike, array: np.ndarray) -> Path:
    """``np.save`` with the same all-or-nothing guarantee as ``write_atomic``."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return write_atomic(path, buffer.getvalue())
