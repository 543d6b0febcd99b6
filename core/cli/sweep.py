"""``python -m core sweep pca|cnn|curves``: the sweeps behind the Model comparison and the
Training lab.

- ``pca``: test accuracy of logistic regression on the first k principal components of the
  pixels -> ``models/pca_sweep.json``;
- ``cnn``: the reference study's CNN experiments (conv blocks x dense layers x neurons, then L2
  and dropout on the best) -> ``models/sweeps.json``;
- ``curves``: learning curves of the reference CNN and the flagship -> ``models/sweeps.json``.
"""

from __future__ import annotations

import argparse
import sys

from core.cli.common import (
    add_data_arguments,
    add_models_dir,
    command_parser,
    deprecated,
    load_data,
)

__all__ = ["main"]

REFERENCE = {"components": [10, 1024], "test_accuracy": [0.714, 0.814],
             "source": "reference study"}


def _pca(args) -> int:
    from core.analysis.features import flatten
    from core.models.artifacts import write_json
    from core.models.classical import pca_sweep
    from core.progress import progress_bar

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
    write_json(sweep, "pca_sweep.json", args.models_dir)
    for row in rows:
        print(f"{row['components']:>5} components: test accuracy {row['test_accuracy']:.4f}")
    return 0


def _cnn(args) -> int:
    from core.models.sweeps import CnnPlan, run_cnn_sweep

    plan = CnnPlan(conv=tuple(args.conv), dense=tuple(args.dense), neurons=tuple(args.neurons),
                   l2=tuple(args.l2), dropout=tuple(args.dropout), seeds=args.seeds,
                   n_train=args.train, n_val=args.val, epochs=args.epochs,
                   batch_size=args.batch_size)
    dataset = load_data(args.data)
    section = run_cnn_sweep(dataset, plan, command=args.command, models_dir=args.models_dir,
                            log=lambda line: print(line, flush=True))
    print(f"{len(section['runs'])} runs in {section['total_seconds']:.0f} s -> "
          f"{args.models_dir}/sweeps.json")
    return 0


def _curves(args) -> int:
    from core.models.sweeps import DEFAULT_CURVES, CurvePlan, run_curves

    names = args.names or list(DEFAULT_CURVES.fractions)
    plan = CurvePlan(
        fractions={m: tuple(args.fractions or DEFAULT_CURVES.fractions[m]) for m in names},
        budgets={m: args.budget or DEFAULT_CURVES.budgets[m] for m in names},
        n_val=args.val)
    dataset = load_data(args.data)
    section = run_curves(dataset, plan, command=args.command, models_dir=args.models_dir,
                         log=lambda line: print(line, flush=True))
    print(f"{len(section['runs'])} points -> {args.models_dir}/sweeps.json")
    return 0


def main(argv: list[str]) -> int:
    from core.models.sweeps import DEFAULT_CURVES, CnnPlan

    parser = command_parser("sweep")
    sub = parser.add_subparsers(dest="sweep", required=True, metavar="{pca,cnn,curves}")
    pca = sub.add_parser("pca", help="logistic regression on k principal components "
                         "-> models/pca_sweep.json")
    cnn = sub.add_parser("cnn", help="conv x dense x neurons, then L2 and dropout "
                         "-> models/sweeps.json")
    curves = sub.add_parser("curves", help="learning curves of the reference CNN and the "
                            "flagship -> models/sweeps.json")
    for p in (pca, cnn, curves):
        add_data_arguments(p)
        add_models_dir(p, "--out")
    plan = CnnPlan()
    cnn.add_argument("--conv", type=int, nargs="+", default=plan.conv, help="conv blocks")
    cnn.add_argument("--dense", type=int, nargs="+", default=plan.dense, help="dense layers")
    cnn.add_argument("--neurons", type=int, nargs="+", default=plan.neurons)
    cnn.add_argument("--l2", type=float, nargs="+", default=plan.l2)
    cnn.add_argument("--dropout", type=float, nargs="+", default=plan.dropout)
    cnn.add_argument("--seeds", type=int, default=plan.seeds,
                     help="seeds per L2 and dropout point (default %(default)s)")
    cnn.add_argument("--train", type=int, default=plan.n_train,
                     help="training images, a stratified subset (default %(default)s)")
    cnn.add_argument("--epochs", type=int, default=plan.epochs)
    cnn.add_argument("--batch-size", type=int, default=plan.batch_size)
    planned = "; ".join(f"{m}: {' '.join(map(str, f))}, {DEFAULT_CURVES.budgets[m]:,} images"
                        for m, f in DEFAULT_CURVES.fractions.items())
    curves.add_argument("--model", action="append", dest="names", default=[], metavar="NAME",
                        choices=list(DEFAULT_CURVES.fractions),
                        help="an architecture to measure (repeatable; default: "
                             f"{' '.join(DEFAULT_CURVES.fractions)})")
    curves.add_argument("--models", nargs="+", choices=list(DEFAULT_CURVES.fractions),
                        help=argparse.SUPPRESS,
                        action=deprecated("--model NAME", dest="names", extend=True))
    curves.add_argument("--fractions", type=float, nargs="+",
                        help="shares of the training split (default: planned per model)")
    curves.add_argument("--budget", type=int, help="training images each point sees over all "
                        f"its epochs (default: planned per model). Planned: {planned}")
    for p in (cnn, curves):
        p.add_argument("--val", type=int, default=plan.n_val,
                       help="validation images (default %(default)s)")
    args = parser.parse_args(argv)
    args.command = " ".join(["python -m core sweep", *(argv if argv is not None
                                                        else sys.argv[2:])])
    return {"pca": _pca, "cnn": _cnn, "curves": _curves}[args.sweep](args)
