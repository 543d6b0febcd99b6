"""``python -m core filters``: train a CNN on each filtered version of the train split, test
each on every filtered version of the leak-free test set; ``models/filter_matrix.json``."""

from __future__ import annotations

from core.cli.common import add_data_arguments, add_models_dir, command_parser, load_data
from core.labs.filters import REPORT, filter_matrix
from core.models.artifacts import write_json
from core.progress import progress_bar

__all__ = ["main"]


def main(argv: list[str]) -> int:
    parser = command_parser("filters")
    parser.add_argument("--model", default="reference_cnn", help="a Keras model name")
    parser.add_argument("--epochs", type=int, default=3)
    add_data_arguments(parser)
    parser.add_argument("--limit", type=int, help="train on at most N images")
    parser.add_argument("--test-limit", type=int,
                        help="test on a stratified subset of N leak-free test images")
    add_models_dir(parser, "--out")
    args = parser.parse_args(argv)
    dataset = load_data(args.data)
    with progress_bar("Filters") as progress:
        report = filter_matrix(dataset, model=args.model, epochs=args.epochs, limit=args.limit,
                               test_limit=args.test_limit, progress=progress)
    write_json(report, REPORT, args.models_dir)
    for variant, row in report["accuracy"].items():
        print(f"trained on {variant:10s} " + "  ".join(f"{t}: {a:.3f}" for t, a in row.items()))
    return 0
