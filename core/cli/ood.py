"""``python -m core ood``: fit the off-distribution score of the scanner's and the flagship's
features, calibrate its cut-off on validation and measure flag rates -> ``models/ood.json``."""

from __future__ import annotations

from core.cli.common import add_data_arguments, add_model_arguments, command_parser, load_data
from core.labs.limits import OOD_MODELS, build_ood
from core.progress import progress_bar

__all__ = ["main"]


def main(argv: list[str]) -> int:
    parser = command_parser("ood")
    add_model_arguments(parser, f"models with a 'features' layer (default: {' '.join(OOD_MODELS)})")
    add_data_arguments(parser)
    parser.add_argument("--train-sample", type=int, default=10_000,
                        help="stratified training images the Gaussian is fitted on "
                             "(default %(default)s)")
    parser.add_argument("--proxy-sample", type=int, default=1000,
                        help="leak-free test images the off-distribution stand-ins are made from "
                             "(default %(default)s)")
    args = parser.parse_args(argv)
    dataset = load_data(args.data)
    with progress_bar("Off-distribution") as progress:
        report = build_ood(dataset, tuple(args.names) or OOD_MODELS,
                           train_sample=args.train_sample, proxy_sample=args.proxy_sample,
                           models_dir=args.models_dir, progress=progress)
    for name, entry in report["models"].items():
        rates = entry["flag_rates"]
        print(f"{name}: cut-off {entry['cutoff']:.2f}; flagged: "
              f"validation {rates['validation']:.2%}"
              f", test {rates['test']:.2%}, leak-free test {rates['leakfree_test']:.2%}")
        for label, stand_in in entry["stand_ins"].items():
            print(f"  {label}: rules {stand_in['rules']:.1%}, learned {stand_in['learned']:.1%}, "
                  f"either {stand_in['either']:.1%}")
    return 0
