"""``python -m core sweep``: test accuracy of logistic regression on the first k principal
components of the pixels, written to ``models/pca_sweep.json``."""

from __future__ import annotations

from core.analysis.features import flatten
from core.cli.common import add_data_arguments, command_parser, load_data
from core.models.artifacts import MODELS_DIR, write_json
from core.models.classical import pca_sweep
from core.progress import progress_bar

__all__ = ["main"]

REFERENCE = {"components": [10, 1024], "test_accuracy": [0.714, 0.814],
             "source": "reference study"}


def main(argv: list[str]) -> int:
    parser = command_parser("sweep")
    add_data_arguments(parser)
    parser.add_argument("--out", default=str(MODELS_DIR),
                        help="folder for pca_sweep.json (default %(default)s)")
    args = parser.parse_args(argv)
    dataset = load_data(args.data)
    train, test = dataset.splits == 0, dataset.splits == 1
    with progress_bar("Sweep") as progress:
        rows = pca_sweep(flatten(dataset.images[train]), dataset.labels[train],
                         flatten(dataset.images[test]), dataset.labels[test], progress=progress)
    sweep = {
        "title": "Logistic regression on the first k principal components",
        "model": "StandardScaler + PCA(k) + LogisticRegression(C=0.01), full train split",
        "fingerprint": dataset.fingerprint,
        "rows": rows,
        "reference": REFERENCE,
    }
    write_json(sweep, "pca_sweep.json", args.out)
    for row in rows:
        print(f"{row['components']:>5} components: test accuracy {row['test_accuracy']:.4f}")
    return 0
