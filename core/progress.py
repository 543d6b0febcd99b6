"""Progress reporting shared by long-running core functions, the CLI and the app."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["ProgressFn", "progress_bar", "silent", "subrange"]

# Called with a fraction in [0, 1] of the whole job and a short description of the current step.
ProgressFn = Callable[[float, str], None]


def silent(fraction: float, message: str) -> None:
    """A progress callback that reports nothing."""


def subrange(progress: ProgressFn, start: float, stop: float) -> ProgressFn:
    """Map a sub-task's own 0..1 progress onto [start, stop] of the parent's progress."""
    return lambda fraction, message: progress(start + (stop - start) * fraction, message)


@contextmanager
def progress_bar(description: str) -> Iterator[ProgressFn]:
    """A tqdm bar on stderr driven by the core's ``progress(fraction, message)`` callbacks."""
    from tqdm import tqdm

    with tqdm(total=1000, desc=description, unit="‰", file=sys.stderr, leave=False,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}") as bar:
        def update(fraction: float, message: str) -> None:
            bar.set_description_str(message, refresh=False)
            bar.update(max(0, round(fraction * 1000) - bar.n))
        yield update
