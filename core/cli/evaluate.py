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
    add_model_arguments(parser, "a model to evaluate", "--models")
    parser.add_argument("--all", action="store_true", help="every model in the models folder")
    parser.add_argument("--on", metavar="PATH",
                        help="instead of CIFAKE's test sets: a folder or zip with REAL/ and FAKE/ "
                             "sub-folders (default models: every evaluated one)")
    parser.add_argument("--json", metavar="OUT", help="with --on: also write the results as JSON")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    parser.add_argument("--tta", action="store_true",
                        help="instead of the plain evaluation: choose each named CNN's "
                             "test-time augmentation (mirror, 1-2 px shifts) on its validation "
                             "images and write its report's tta section; the rest of the report "
                             "is left as it is")
    parser.add_argument("--ensemble", action="store_true",
                        help="instead of the plain evaluation: weight the named CNNs (default: "
                             "every evaluated CNN) on their validation images and write "
                             "models/ensemble.json")
    add_data_arguments(parser, size=True)
    add_cluster_argument(parser)
    args = parser.parse_args(argv)
    if args.cluster and not args.on:
        parser.error("--cluster scans your own images: use it with --on PATH")
    if args.on:
        return _evaluate_on(args)
    if args.ensemble:
        return _evaluate_ensemble(args)
    from core.models.artifacts import list_reports

    names = [r["name"] for r in list_reports(args.models_dir)] if args.all else args.names
    if not names:
        parser.error("name at least one model (--model NAME), or --all, or --on PATH")
    if args.tta:
        return _evaluate_tta(names, args)
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


def _evaluate_tta(names: list[str], args) -> int:
    from core.models.artifacts import read_report
    from core.models.evaluate_tta import evaluate_tta, tta_candidates
    from core.progress import progress_bar

    chosen = [n for n in names if len(tta_candidates(read_report(n, args.models_dir))) > 1]
    for name in sorted(set(names) - set(chosen)):
        print(f"note: {name} is not a CNN trained with flip or crop: no test-time augmentation",
              file=sys.stderr)
    if not chosen:
        raise ValueError("none of the models has test-time augmentation to choose")
    dataset = load_data(args.data, args.size)
    for name in chosen:
        with progress_bar("Test-time augmentation") as progress:
            report = evaluate_tta(name, dataset, models_dir=args.models_dir, progress=progress)
        tta = report["tta"]
        print(f"{name}: chose {tta['candidate']} ({tta['description']}) on validation "
              f"accuracy; plain {tta['plain_validation_accuracy']:.4f}")
        print(f"  {'candidate':18s} {'views':>5s} {'val acc':>8s} {'test acc':>8s} "
              f"{'leak-free':>9s} {'AUROC':>7s}")
        for option, c in tta["candidates"].items():
            print(f"  {option:18s} {c['n_views']:5d} {c['validation_accuracy']:8.4f} "
                  f"{c['test_accuracy']:8.4f} {c['leakfree_accuracy']:9.4f} "
                  f"{c['test_auroc']:7.4f}")
        plain, test = tta["candidates"]["none"], report["metrics"]["test"]["at_threshold"]
        if abs(plain["threshold"] - report["threshold"]) > 1e-4 \
                or plain["test_accuracy"] != test["accuracy"]:
            print(f"  note: the plain score no longer reproduces the report's threshold and "
                  f"test accuracy ({report['threshold']:.4f}, {test['accuracy']:.4f})")
        sys.stdout.flush()
    return 0


def _evaluate_ensemble(args) -> int:
    from core.models.ensemble_weights import evaluate_ensemble
    from core.progress import progress_bar

    dataset = load_data(args.data, args.size)
    with progress_bar("Ensemble") as progress:
        result = evaluate_ensemble(dataset, args.names or None, models_dir=args.models_dir,
                                   progress=progress)
    print(f"{'':24s} {'val acc':>8s} {'test acc':>8s} {'leak-free':>9s} {'AUROC':>7s}")
    for label, entry in [("weighted", result["weighted"]),
                         (f"best single ({result['best_single']['name']})",
                          result["best_single"]),
                         (f"equal ({'+'.join(result['equal']['models'])})", result["equal"])]:
        print(f"{label[:24]:24s} {entry['validation_accuracy']:8.4f} "
              f"{entry['test_accuracy']:8.4f} {entry['leakfree_accuracy']:9.4f} "
              f"{entry['test_auroc']:7.4f}")
    print(result["reading"])
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
