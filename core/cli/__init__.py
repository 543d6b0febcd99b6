"""The command line: ``python -m core <command> [options]``; ``python -m core --help`` lists the
commands, ``python -m core <command> --help`` a command's options.

Each command is the module ``core.cli.<command>`` with a ``main(argv) -> int``; it imports the
work it does only when it runs, so the listing and every command that needs no Keras model start
without TensorFlow. An error meant for the user prints one ``error:`` line and exits with
status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from core.errors import DataError

__all__ = ["COMMANDS", "main", "prog"]

# command -> what it does, in one line (the listing of ``python -m core --help``)
COMMANDS = {
    "info": "counts per split, label and class, duplicate groups, the train->test leak",
    "stats": "recompute the committed statistics and embeddings (data/summary/)",
    "train": "train a model; write it and its report to models/, then evaluate it",
    "evaluate": "score models on the test sets; update their reports and the leaderboard",
    "sweep": "pca: PCA + logistic regression; cnn: CNN hyperparameters; curves: learning curves",
    "predict": "score image files, folders or zips with the shipped models (CSV, JSON)",
    "filters": "a CNN trained on each filtered train split -> models/filter_matrix.json",
    "robustness": "every model under JPEG, blur, noise, rescaling... -> models/robustness.json",
    "adversarial": "FGSM and PGD accuracy against epsilon per CNN -> models/adversarial.json",
    "ood": "fit and measure the off-distribution score (abstention) -> models/ood.json",
    "stability": "unstable share and accuracy of stable verdicts -> models/stability.json",
    "generator": "train the project's own GAN or VAE on REAL images, or sample fakes from one",
    "generalize": "cross-generator matrix and every model on every fake source -> "
                  "models/generalization.json",
    "serve": "the detectors over HTTP (FastAPI): /predict, /predict/batch, /explain, /docs",
    "inside": "what every block of a CNN computes on one image: activation grids (PNG) and a "
              "JSON summary",
}


def prog() -> str:
    """How the command line was called: ``cifake`` (the installed script) or ``python -m core``."""
    return "cifake" if os.path.basename(sys.argv[0]) == "cifake" else "python -m core"


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m core`` with ``argv`` (default: the process's arguments); the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in COMMANDS:
        _listing().parse_args(argv)  # prints the listing (--help) or a usage error, and exits
    command = importlib.import_module(f"core.cli.{argv[0]}")
    try:
        return command.main(argv[1:])
    except (DataError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _listing() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {name:<12} {summary}" for name, summary in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog=prog(), usage=f"{prog()} [-h] COMMAND [OPTIONS]",
        description="CIFAKE Explorer on the command line.",
        epilog=f"commands:\n{listing}\n\n'{prog()} COMMAND --help' shows its options.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", metavar="COMMAND", choices=COMMANDS,
                        help="one of the commands below")
    return parser
