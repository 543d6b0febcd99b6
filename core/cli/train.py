"""``python -m core train``: train a model on CIFAKE (or any REAL/FAKE folder), write it and its
report to the models folder, then evaluate it (``core.models.train``)."""

from __future__ import annotations

import sys
from pathlib import Path

from core.cli.common import add_data_arguments, add_models_dir, command_parser, load_data

__all__ = ["main"]


def main(argv: list[str]) -> int:
    from core.models.augment import AUGMENTATIONS
    from core.models.classical import CLASSICAL
    from core.models.deep import BACKBONES, BUILDERS
    from core.models.train import TrainConfig, train

    choices = list(BUILDERS) + list(BACKBONES) + list(CLASSICAL)
    parser = command_parser("train")
    parser.add_argument("model", choices=choices, metavar="MODEL", help=", ".join(choices))
    add_data_arguments(parser, size=True)
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--learning-rate", type=float, default=TrainConfig.learning_rate)
    parser.add_argument("--augment", nargs="*", default=[], choices=AUGMENTATIONS)
    parser.add_argument("--patience", type=int, default=TrainConfig.patience)
    add_models_dir(parser, "--out")
    parser.add_argument("--weights", help="local weights file for a backbone")
    parser.add_argument("--init", help="continue training from this saved model (same MODEL)")
    parser.add_argument("--limit", type=int, help="train on at most N images (quick trials)")
    parser.add_argument("--name", default="", help="artifact name (default: MODEL)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, help="base width of a widenable model "
                        "(flagship, scanner)")
    parser.add_argument("--label-smoothing", type=float, default=TrainConfig.label_smoothing)
    parser.add_argument("--weight-decay", type=float, default=TrainConfig.weight_decay)
    parser.add_argument("--teacher", help="distil this saved model's P(FAKE) into the new one")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from its checkpoint")
    parser.add_argument("--fakes", nargs="*", default=[], metavar="SOURCE",
                        help="also learn from these fake sources (gan, vae, ...: "
                             "core.models.fake_sources); their images count as FAKE")
    parser.add_argument("--fakes-n", type=int, default=TrainConfig.fakes_n,
                        help="training images per extra fake source (default %(default)s)")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="train in bfloat16 (fast on CPUs with AMX); saved in float32")
    args = parser.parse_args(argv)
    config = TrainConfig(
        model=args.model, name=args.name, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate, augment=tuple(args.augment), patience=args.patience,
        seed=args.seed, limit=args.limit, weights=args.weights, init=args.init,
        width=args.width, label_smoothing=args.label_smoothing, weight_decay=args.weight_decay,
        teacher=args.teacher, resume=args.resume, mixed_precision=args.mixed_precision,
        fakes=tuple(args.fakes), fakes_n=args.fakes_n,
        command=" ".join(["python -m core train", *argv]),
    )
    dataset = load_data(args.data, args.size)
    # a progress bar per epoch on a terminal, one line per epoch in a log
    report = train(config, dataset, models_dir=args.models_dir,
                   verbose=1 if sys.stdout.isatty() else 2)
    test = report["metrics"]["test"]
    print(f"{report['name']}: test accuracy {test['at_threshold']['accuracy']:.4f} "
          f"(threshold {report['threshold']:.3f}), AUROC {test['roc_auc']:.4f}, leak-free "
          f"accuracy {report['metrics']['leakfree_test']['at_threshold']['accuracy']:.4f}; "
          f"trained in {report['training']['seconds']:.0f} s "
          f"-> {Path(args.models_dir) / report['file']}")
    return 0
