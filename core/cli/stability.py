"""``python -m core stability``: the stability check on the leak-free test set, per model: the
share marked unstable and the accuracy of stable and unstable verdicts ->
``models/stability.json``."""

from __future__ import annotations

from core.cli.common import add_data_arguments, add_model_arguments, command_parser, load_data
from core.labs.stability_study import measure_stability
from core.progress import progress_bar

__all__ = ["main"]


def main(argv: list[str]) -> int:
    parser = command_parser("stability")
    add_model_arguments(parser, "a model to check (default: every evaluated model)")
    add_data_arguments(parser)
    parser.add_argument("--limit", type=int, default=2000,
                        help="a stratified subset of N leak-free test images (default "
                             "%(default)s; 0 for all)")
    args = parser.parse_args(argv)
    dataset = load_data(args.data)
    with progress_bar("Stability") as progress:
        report = measure_stability(dataset, args.names or None, limit=args.limit or None,
                                   models_dir=args.models_dir, progress=progress)
    print(f"{report['images']:,} leak-free test images; checks: {', '.join(report['checks'])}")
    for name, m in report["models"].items():
        stable = "–" if m["accuracy_stable"] is None else f"{m['accuracy_stable']:.2%}"
        unstable = "–" if m["accuracy_unstable"] is None else f"{m['accuracy_unstable']:.2%}"
        print(f"{name:16s} unstable {m['unstable_share']:6.2%}; accuracy stable {stable}, "
              f"unstable {unstable}")
    return 0
