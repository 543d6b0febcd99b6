"""``python -m core generator``: train the project's own generators on CIFAKE's REAL training
images, or make fakes with one of them.

    python -m core generator train gan|vae [--epochs N] [--width W] [--limit N] [--seed S]
    python -m core generator sample NAME --n N --seed S --out DIR [--data PATH]
    python -m core generator preview NAME    # (re)write models/generators/NAME_preview.png

``sample`` writes ``DIR/FAKE/NAME_SEED_I.jpg`` (JPEG q75, like CIFAKE); a VAE reconstructs the
first N REAL test images of the data. It never overwrites:
a DIR/FAKE that already holds files is refused.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from core.cli.common import add_data_arguments, add_generators_dir, command_parser, load_data
from core.data.sources import LABELS
from core.progress import progress_bar

__all__ = ["main"]


def main(argv: list[str]) -> int:
    from core.models.generators import GENERATORS, GeneratorConfig

    parser = command_parser("generator")
    actions = parser.add_subparsers(dest="action", required=True)
    train = actions.add_parser("train", help="train a generator on CIFAKE train REAL images")
    train.add_argument("kind", choices=GENERATORS)
    train.add_argument("--name", default="", help="artifact name (default: the kind)")
    train.add_argument("--epochs", type=int, default=GeneratorConfig.epochs)
    train.add_argument("--batch-size", type=int, default=GeneratorConfig.batch_size)
    train.add_argument("--learning-rate", type=float, default=GeneratorConfig.learning_rate)
    train.add_argument("--width", type=int, default=0, help="base width (gan 64, vae 32)")
    train.add_argument("--beta", type=float, default=GeneratorConfig.beta,
                       help="weight of the VAE's KL term")
    train.add_argument("--limit", type=int, help="train on at most N REAL images")
    train.add_argument("--seed", type=int, default=0)
    add_generators_dir(train, "--out")
    add_data_arguments(train)
    sample = actions.add_parser("sample", help="make N fakes into DIR/FAKE (JPEG q75)")
    sample.add_argument("name", metavar="NAME")
    sample.add_argument("--n", type=int, default=100)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", required=True, metavar="DIR")
    add_generators_dir(sample)
    add_data_arguments(sample)
    preview = actions.add_parser("preview", help="write the preview grid NAME_preview.png")
    preview.add_argument("name", metavar="NAME")
    add_generators_dir(preview)
    args = parser.parse_args(argv)
    if args.action == "preview":
        from core.models.generators import write_preview

        print(write_preview(args.name, args.generators_dir))
        return 0
    return _train(args, argv) if args.action == "train" else _sample(args)


def _train(args, argv: list[str]) -> int:
    from core.models.generators import GeneratorConfig, train_generator

    config = GeneratorConfig(
        args.kind, name=args.name, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate, width=args.width, beta=args.beta, seed=args.seed,
        limit=args.limit, command=" ".join(["python -m core generator", *argv]))
    dataset = load_data(args.data)
    real = dataset.images[(dataset.splits == 0) & (dataset.labels == LABELS.index("REAL"))]
    with progress_bar("Training") as progress:
        report = train_generator(config, real, out_dir=args.generators_dir, progress=progress)
    print(f"{report['name']}: {report['params']:,} parameters, {report['file_mb']} MB, trained "
          f"on {report['data']['n_train']:,} REAL images in {report['training']['seconds']:.0f} s"
          f" -> {Path(args.generators_dir) / report['file']}")
    return 0


def _sample(args) -> int:
    from core.data.perturb import encode_jpeg
    from core.models.generators import JPEG_QUALITY, load_generator

    if args.n < 1:
        raise ValueError(f"--n must be at least 1, not {args.n}")
    folder = Path(args.out) / "FAKE"
    if folder.exists() and any(folder.iterdir()):
        raise ValueError(f"{folder} already holds files; choose an empty --out")
    generator = load_generator(args.name, args.generators_dir)
    images = None
    if generator.kind == "vae":
        dataset = load_data(args.data)
        rows = np.flatnonzero((dataset.splits == 1) & (dataset.labels == LABELS.index("REAL")))
        if args.n > len(rows):
            raise ValueError(f"the data has only {len(rows):,} REAL test images to reconstruct")
        images = dataset.images[rows[:args.n]]
    with progress_bar("Sampling") as progress:
        fakes = generator.raw(args.n, args.seed, images=images, progress=progress)
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(fakes):
        (folder / f"{args.name}_{args.seed}_{i}.jpg").write_bytes(encode_jpeg(image, JPEG_QUALITY))
    print(f"{args.n:,} images from {args.name} (seed {args.seed}) -> {folder}", file=sys.stderr)
    return 0
