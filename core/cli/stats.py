"""``python -m core stats``: recompute the committed statistics and embeddings of a dataset."""

from __future__ import annotations

from core.analysis.summary import write_summary
from core.cli.common import add_data_arguments, command_parser, load_data
from core.data.sources import SUMMARY_DIR
from core.progress import progress_bar

__all__ = ["main"]


def main(argv: list[str]) -> int:
    parser = command_parser("stats")
    add_data_arguments(parser, size=True)
    parser.add_argument("--out", default=str(SUMMARY_DIR),
                        help="output folder (default %(default)s)")
    parser.add_argument("--sample", type=int, default=2000, help="embedding sample size")
    args = parser.parse_args(argv)
    dataset = load_data(args.data, args.size)
    with progress_bar("Statistics") as progress:
        written = write_summary(dataset, out_dir=args.out, sample=args.sample, progress=progress)
    for path in written:
        print(f"wrote {path}")
    return 0
