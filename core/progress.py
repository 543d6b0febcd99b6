"""Progress reporting shared by long-running core functions, the CLI and the app."""

from __future__ import annotations

from typing import Callable

__all__ = ["ProgressFn", "silent", "subrange"]

# Called with a fraction in [0, 1] of the whole job and a short description of the current step.
ProgressFn = Callable[[float, str], None]


def silent(fraction: float, message: str) -> None:
    """A progress callback that reports nothing."""


def subrange(progress: ProgressFn, start: float, stop: float) -> ProgressFn:
    """Map a sub-task's own 0..1 progress onto [start, stop] of the parent's progress."""
    return lambda fraction, message: progress(start + (stop - start) * fraction, message)
