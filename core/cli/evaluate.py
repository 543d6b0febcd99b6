"""``python -m core evaluate``: score models on the CIFAKE test and leak-free test sets, fitting
each one's calibration and threshold on its validation images and writing its report and
``models/leaderboard.json``; or, with ``--on PATH``, every model on your own REAL/ and FAKE/ folder
or zip (``core.labs.own_data``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from core.cli.common import (
    add_cluster_argument,
    add_data_arguments,
    add_model_arguments,
    command_parser,
    load_data,
)

__all__ = ["main"]


def main(argv: list[str]) -> int:
    parser = command_parser("evaluate")
    add_model_arguments(parser, "evaluate this model", "--models")
    parser.add_argument("--all", action="store_true", help="every model in the models folder")
    parser.add_argument("--on", metavar="PATH",
                        help="instead of CIFAKE's test sets: a folder or zip with REAL/ and FAKE/ "
                             "sub-folders (default models: every evaluated one)")
    parser.add_argument("--json", metavar="OUT", help="with --on: also write the results as JSON")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    add_data_arguments(parser, size=True)
    add_cluster_argument(parser)
    args = parser.parse_args(argv)
    if args.cluster and not args.on:
        parser.error("--cluster scans your own images: use it with --on PATH")
    if args.on:
        return _evaluate_on(args)
    from core.models.artifacts import list_reports

    names = [r["name"] for r in list_reports(args.models_dir)] if args.all else args.names
    if not names:
        parser.error("name at least one model (--model NAME), or --all, or --on PATH")
    return _evaluate_cifake(names, args)


def _evaluate_cifake(names: list[str], args) -> int:
    from tqdm import tqdm

    from core.models.evaluate import evaluate_model

    dataset = load_data(args.data, args.size)
    for name in tqdm(names, desc="Evaluating", file=sys.stderr):
        report = evaluate_model(name, dataset, models_dir=args.models_dir)
        test, leak = report["metrics"]["test"], report["metrics"]["leakfree_test"]
        tqdm.write(f"{name:<16} test acc {test['at_threshold']['accuracy']:.4f} "
                   f"(at 0.5: {test['at_0.5']['accuracy']:.4f})  AUROC {test['roc_auc']:.4f}  "
                   f"leak-free acc {leak['at_threshold']['accuracy']:.4f}  "
                   f"{report['speed']['images_per_second']:.0f} img/s")
    return 0


def _evaluate_on(args) -> int:
    from core.data.files import write_atomic
    from core.detect.detector import load_detector
    from core.labs.own_data import evaluate_on
    from core.progress import progress_bar

    if args.json and Path(args.json).exists() and not args.overwrite:
        raise ValueError(f"{args.json} exists; choose another name or pass --overwrite")
    if args.cluster:
        from core.detect.cluster_scan import parse_cluster

        parse_cluster(args.cluster)  # a malformed address fails before the models load
    detector = load_detector(args.names or None, models_dir=args.models_dir)
    with progress_bar("Evaluating") as progress:
        report = evaluate_on(args.on, detector, models_dir=args.models_dir,
                             cluster=args.cluster, progress=progress)
    print(f"{report['path']}: {report['scored']:,} of {report['images']:,} images scored "
          f"({report['counts']['REAL']:,} REAL, {report['counts']['FAKE']:,} FAKE); "
          f"{report['flag_rate']:.1%} off-distribution")
    print(f"{'model':16s} {'acc':>6s} {'AUROC':>6s} {'acc unflagged':>14s} "
          f"{'CIFAKE acc':>10s} {'CIFAKE AUROC':>12s}")
    for name, m in report["models"].items():
        print(f"{name:16s} {_percent(m['accuracy'])} {_number(m['auroc']):>6s} "
              f"{_percent(m['accuracy_unflagged']):>14s} "
              f"{_percent(m['cifake_test_accuracy']):>10s} "
              f"{_number(m['cifake_test_auroc']):>12s}")
    mistakes = report["models"]["ensemble"]["mistakes"]
    if mistakes:
        print("most confident mistakes of the ensemble:")
        for m in mistakes:
            print(f"  {m['path']} ({m['label']}, P(FAKE) {m['p_fake']:.3f})")
    for error in report["errors"]:
        print(f"unreadable: {error['path']}: {error['message']}", file=sys.stderr)
    if args.json:
        write_atomic(args.json, json.dumps(report, indent=1).encode())
    return 0


def _percent(value: float | None) -> str:
    return "     –" if value is None else f"{value:6.1%}"


def _number(value: float | None) -> str:
    return "    –" if value is None else f"{value:.3f}"
