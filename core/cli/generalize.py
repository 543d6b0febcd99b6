"""``python -m core generalize``: the cross-generator matrix, every shipped model on every fake
source, Fréchet distances and the off-distribution score on each ->
``models/generalization.json``."""

from __future__ import annotations

import sys

from core.cli.common import (
    add_data_arguments,
    add_generators_dir,
    add_models_dir,
    command_parser,
    load_data,
)
from core.progress import progress_bar

__all__ = ["main"]


def main(argv: list[str]) -> int:
    from core.labs.generalization import build_generalization
    from core.models.fake_sources import SOURCES

    parser = command_parser("generalize")
    parser.add_argument("--sources", nargs="+", default=list(SOURCES), choices=list(SOURCES))
    parser.add_argument("--architecture", default="scanner",
                        help="the detector trained for each cell (default %(default)s)")
    parser.add_argument("--n-train", type=int, default=16_000,
                        help="training images per matrix detector, half REAL (default %(default)s)")
    parser.add_argument("--n-test", type=int, default=2000,
                        help="REAL test images and test images per source (default %(default)s)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reuse-matrix", action="store_true",
                        help="keep the matrix of models/generalization.json when its set-up is "
                             "the same; measure only the shipped models, distances and "
                             "off-distribution rates again")
    add_models_dir(parser)
    add_generators_dir(parser)
    add_data_arguments(parser)
    args = parser.parse_args(argv)
    dataset = load_data(args.data)
    with progress_bar("Generalization") as progress:
        report = build_generalization(
            dataset, tuple(args.sources), architecture=args.architecture, n_train=args.n_train,
            n_test=args.n_test, epochs=args.epochs, seed=args.seed, models_dir=args.models_dir,
            generators_dir=args.generators_dir, reuse_matrix=args.reuse_matrix, progress=progress,
            command=" ".join(["python -m core generalize", *argv]))
    for row in report["matrix"]:
        cells = "  ".join(f"{s} {t['auroc']:.3f}" for s, t in row["tests"].items())
        print(f"trained on {'+'.join(row['trained_on']):<12} AUROC: {cells}", file=sys.stdout)
    return 0
