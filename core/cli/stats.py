"""``python -m core stats``: recompute the committed statistics and embeddings of a dataset, or add
the embedding sample's coordinates in trained CNNs' features."""

from __future__ import annotations

from core.analysis.embed import Space, cnn_space
from core.analysis.summary import add_embeddings, write_summary
from core.cli.common import add_data_arguments, command_parser, load_data
from core.data.sources import SUMMARY_DIR
from core.models.artifacts import Predictor, load_predictor
from core.progress import progress_bar

__all__ = ["main"]


def main(argv: list[str]) -> int:
    parser = command_parser("stats")
    add_data_arguments(parser, size=True)
    parser.add_argument("--out", default=str(SUMMARY_DIR),
                        help="output folder (default %(default)s)")
    parser.add_argument("--sample", type=int, default=2000, help="embedding sample size")
    parser.add_argument("--cnn", nargs="+", metavar="NAME",
                        help="only add the committed sample's PCA and t-SNE in the penultimate "
                             "features of these trained CNNs to OUT/embedding.json (every other "
                             "number is kept)")
    args = parser.parse_args(argv)
    dataset = load_data(args.data, args.size)
    if args.cnn:
        spaces: dict[str, Space] = {}
        for name in args.cnn:
            predictor = load_predictor(name)
            spaces[cnn_space(name, predictor.sha256)] = _features_space(name, predictor)
        with progress_bar("Embeddings") as progress:
            written = [add_embeddings(dataset, spaces, summary_dir=args.out, progress=progress)]
    else:
        with progress_bar("Statistics") as progress:
            written = write_summary(dataset, out_dir=args.out, sample=args.sample,
                                    progress=progress)
    for path in written:
        print(f"wrote {path}")
    return 0


def _features_space(name: str, predictor: Predictor) -> Space:
    """The space of the penultimate-layer features of the trained model ``name``."""
    return Space(f"CNN features: the penultimate layer of the trained model {name}.",
                 lambda images, features: predictor.features(images))
