"""What several commands share: their argument parser, the ``--data`` and ``--size`` options, the
``--model NAME`` and ``--models-dir`` options (one spelling each; older spellings still accepted
with a one-line deprecation notice), and loading the dataset with a progress bar."""

from __future__ import annotations

import argparse
import sys

from core.cli import COMMANDS, prog
from core.data.dataset import DEFAULT_SIZE, Dataset, load_dataset
from core.data.sources import resolve_source
from core.models.artifacts import MODELS_DIR
from core.progress import progress_bar

__all__ = [
    "add_cluster_argument",
    "add_data_arguments",
    "add_generators_dir",
    "add_model_arguments",
    "add_models_dir",
    "command_parser",
    "deprecated",
    "load_data",
]


def command_parser(command: str) -> argparse.ArgumentParser:
    """The parser of ``python -m core <command>``, described by its line in ``COMMANDS``."""
    return argparse.ArgumentParser(prog=f"{prog()} {command}",
                                   description=COMMANDS[command])


def add_data_arguments(parser: argparse.ArgumentParser, *, size: bool = False) -> None:
    """``--data PATH`` and, with ``size``, ``--size N``."""
    parser.add_argument("--data", help="CIFAKE zip or folder (default: $CIFAKE_PATH, then "
                        "data/cifake.zip, data/cifake/, ../shared/data/cifake.zip)")
    if size:
        parser.add_argument("--size", type=int, default=DEFAULT_SIZE,
                            help="side in pixels images are resized to (default %(default)s)")


def add_cluster_argument(parser: argparse.ArgumentParser) -> None:
    """``--cluster ADDRESS|local[:N]``: scan on a Dask cluster (``core.detect.cluster_scan``)."""
    parser.add_argument("--cluster", metavar="ADDRESS|local[:N]",
                        help="scan on a Dask cluster: local[:N] starts N worker processes here "
                        "(default: one per core), ADDRESS (tcp://host:8786) uses a running "
                        "scheduler; the same rows as without it")


def add_model_arguments(parser: argparse.ArgumentParser, what: str, *old_dirs: str) -> None:
    """``--model NAME`` (repeatable; default: every evaluated one, described as ``what``) and
    ``--models-dir`` (``old_dirs``: its older spellings). Names given as positional arguments
    (the older spelling) still count."""
    parser.add_argument("--model", action="append", dest="names", default=[], metavar="NAME",
                        help=f"{what} (repeatable)")
    parser.add_argument("legacy_names", nargs="*", metavar="NAME", help=argparse.SUPPRESS,
                        action=deprecated("--model NAME", dest="names", extend=True))
    add_models_dir(parser, *old_dirs)


def add_models_dir(parser: argparse.ArgumentParser, *old: str) -> None:
    """``--models-dir DIR``, the models folder; ``old`` spellings of it still work."""
    parser.add_argument("--models-dir", default=str(MODELS_DIR), metavar="DIR",
                        help="the models folder (default: models/ in the project)")
    for option in old:
        parser.add_argument(option, help=argparse.SUPPRESS,
                            action=deprecated("--models-dir", dest="models_dir"))


def add_generators_dir(parser: argparse.ArgumentParser, *old: str) -> None:
    """``--generators-dir DIR``, the folder of our generators; ``old`` spellings still work."""
    from core.models.generators import GENERATORS_DIR

    parser.add_argument("--generators-dir", default=str(GENERATORS_DIR), metavar="DIR",
                        help="the generators folder (default: models/generators/ in the project)")
    for option in old:
        parser.add_argument(option, help=argparse.SUPPRESS,
                            action=deprecated("--generators-dir", dest="generators_dir"))


def deprecated(new: str, *, dest: str, extend: bool = False) -> type[argparse.Action]:
    """An argparse action for an old spelling: stores its value(s) in ``dest`` (appends with
    ``extend``) and prints one line saying what to use instead."""

    class Deprecated(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            if extend and not values:  # a positional nargs="*" left empty
                return
            spelling = option_string or "model names as arguments"
            print(f"note: {spelling} is deprecated and will be removed; use {new}",
                  file=sys.stderr)
            if extend:
                setattr(namespace, dest, [*(getattr(namespace, dest, None) or []), *values])
            else:
                setattr(namespace, dest, values)

    return Deprecated


def load_data(path: str | None, size: int = DEFAULT_SIZE) -> Dataset:
    """The dataset at ``path`` (default: where the app looks for it), decoded at ``size``
    pixels, with a progress bar on stderr."""
    with progress_bar("Loading") as progress:
        return load_dataset(resolve_source(path), size=size, progress=progress)
