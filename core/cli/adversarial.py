"""``python -m core adversarial``: FGSM and PGD accuracy-versus-epsilon curves for the named
CNNs (default: every evaluated CNN), merged into ``models/adversarial.json``."""

from __future__ import annotations

from core.cli.common import add_data_arguments, add_model_arguments, command_parser, load_data
from core.labs.adversarial import run
from core.progress import progress_bar

__all__ = ["main"]


def main(argv: list[str]) -> int:
    parser = command_parser("adversarial")
    add_model_arguments(parser, "a CNN to attack (default: every evaluated CNN)")
    add_data_arguments(parser)
    parser.add_argument("--n", type=int, default=1000, help="leak-free test images attacked")
    args = parser.parse_args(argv)
    dataset = load_data(args.data)
    with progress_bar("Adversarial") as progress:
        report = run(args.names, dataset, n=args.n, models_dir=args.models_dir,
                     progress=progress)
    for name in args.names or report["models"]:
        line = ", ".join(f"{m.upper()} " + " ".join(f"{c['epsilon']:g}:{c['accuracy']:.3f}"
                                                   for c in curve)
                         for m, curve in report["models"][name].items())
        print(f"{name:16s} accuracy by epsilon/255: {line}")
    return 0
