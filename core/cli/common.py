"""What several commands share: their argument parser, the ``--data`` and ``--size`` options,
the model names a lab runs on, and loading the dataset with a progress bar."""

from __future__ import annotations

import argparse

from core.cli import COMMANDS
from core.data.dataset import DEFAULT_SIZE, Dataset, load_dataset
from core.data.sources import resolve_source
from core.models.artifacts import MODELS_DIR
from core.progress import progress_bar

__all__ = ["add_data_arguments", "add_model_arguments", "command_parser", "load_data"]


def command_parser(command: str) -> argparse.ArgumentParser:
    """The parser of ``python -m core <command>``, described by its line in ``COMMANDS``."""
    return argparse.ArgumentParser(prog=f"python -m core {command}",
                                   description=COMMANDS[command])


def add_data_arguments(parser: argparse.ArgumentParser, *, size: bool = False) -> None:
    """``--data PATH`` and, with ``size``, ``--size N``."""
    parser.add_argument("--data", help="CIFAKE zip or folder (default: $CIFAKE_PATH, then "
                        "data/cifake.zip, data/cifake/, ../shared/data/cifake.zip)")
    if size:
        parser.add_argument("--size", type=int, default=DEFAULT_SIZE,
                            help="side in pixels images are resized to (default %(default)s)")


def add_model_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """Model ``NAME``s (default: every evaluated one, described as ``what``) and the models
    folder (``--models-dir``, for tests)."""
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"{what} (default: all)")
    parser.add_argument("--models-dir", default=str(MODELS_DIR), help=argparse.SUPPRESS)


def load_data(path: str | None, size: int = DEFAULT_SIZE) -> Dataset:
    """The dataset at ``path`` (default: where the app looks for it), decoded at ``size``
    pixels, with a progress bar on stderr."""
    with progress_bar("Loading") as progress:
        return load_dataset(resolve_source(path), size=size, progress=progress)
