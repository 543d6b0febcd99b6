"""``python -m core ood``: fit the off-distribution score of the scanner's and the flagship's
features (``core.detect.ood_fit``), measure its flag rates (``core.labs.ood_study``) ->
``models/ood.json``."""

from __future__ import annotations

from core.cli.common import add_data_arguments, add_model_arguments, command_parser, load_data
from core.progress import progress_bar, subrange

__all__ = ["main"]


def main(argv: list[str]) -> int:
    from core.detect import ood
    from core.detect.ood_fit import OOD_MODELS, fit_ood
    from core.labs.ood_study import measure_ood

    parser = command_parser("ood")
    add_model_arguments(parser, "a model with a 'features' layer (default: "
                                f"{' '.join(OOD_MODELS)})")
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
        fits = fit_ood(dataset, tuple(args.names) or OOD_MODELS, train_sample=args.train_sample,
                       models_dir=args.models_dir, progress=subrange(progress, 0, 0.5))
        measured = measure_ood(dataset, fits, proxy_sample=args.proxy_sample,
                               models_dir=args.models_dir, progress=subrange(progress, 0.5, 1))
    ood.write_gaussians({name: fit.gaussian for name, fit in fits.items()}, args.models_dir,
                        measured=measured)
    for name, entry in measured["models"].items():
        rates = entry["flag_rates"]
        print(f"{name}: cut-off {fits[name].gaussian.cutoff:.2f}; flagged: validation "
              f"{rates['validation']:.2%}, test {rates['test']:.2%}, leak-free test "
              f"{rates['leakfree_test']:.2%}")
        for label, stand_in in entry["stand_ins"].items():
            print(f"  {label}: rules {stand_in['rules']:.1%}, learned {stand_in['learned']:.1%}, "
                  f"either {stand_in['either']:.1%}")
    return 0
