"""``python -m core robustness``: the robustness battery for the named models (default: every
evaluated model), merged into ``models/robustness.json``."""

from __future__ import annotations

from core.cli.common import add_data_arguments, add_model_arguments, command_parser, load_data
from core.labs.robustness import PERTURBATIONS, run
from core.progress import progress_bar

__all__ = ["main"]


def main(argv: list[str]) -> int:
    parser = command_parser("robustness")
    add_model_arguments(parser, "a model to test (default: every evaluated model)")
    add_data_arguments(parser)
    parser.add_argument("--limit", type=int, help="a stratified subset of N leak-free test images")
    args = parser.parse_args(argv)
    dataset = load_data(args.data)
    with progress_bar("Robustness") as progress:
        report = run(args.names, dataset, limit=args.limit, models_dir=args.models_dir,
                     progress=progress)
    for name in args.names or report["models"]:
        result = report["models"][name]
        worst = min((m["auroc"], f"{k} {s}") for k in PERTURBATIONS
                    for s, m in result[k].items())
        print(f"{name:16s} clean acc {result['clean']['accuracy']:.4f} AUROC "
              f"{result['clean']['auroc']:.4f}; JPEG q50 AUROC {result['jpeg']['50']['auroc']:.4f}"
              f", blur 1.0 {result['blur']['1.0']['auroc']:.4f}, rescale 16 "
              f"{result['rescale']['16']['auroc']:.4f}; worst {worst[1]} ({worst[0]:.4f})")
    return 0
