"""``python -m core evaluate``: score models on the CIFAKE test sets (``core.models.evaluate.main``)
or, with ``--on PATH``, on your own REAL/ and FAKE/ folder or zip (``core.labs.own_data``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.models.evaluate import main as evaluate_cifake

__all__ = ["main"]


def main(argv: list[str]) -> int:
    if not any(arg == "--on" or arg.startswith("--on=") for arg in argv):
        return evaluate_cifake(argv)
    from core.data.files import write_atomic
    from core.detect.predict import load_detector
    from core.labs.own_data import evaluate_on
    from core.models.artifacts import MODELS_DIR
    from core.progress import progress_bar

    parser = argparse.ArgumentParser(
        prog="python -m core evaluate --on",
        description="every model's accuracy, AUROC, off-distribution flag rate and most "
                    "confident mistakes on a folder or zip with REAL/ and FAKE/ sub-folders")
    parser.add_argument("--on", required=True, metavar="PATH", help="folder or zip")
    parser.add_argument("--model", action="append", dest="models", metavar="NAME",
                        help="evaluate this model (repeatable; default: every evaluated model)")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    parser.add_argument("--models-dir", default=str(MODELS_DIR), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.json and Path(args.json).exists() and not args.overwrite:
        raise ValueError(f"{args.json} exists; choose another name or pass --overwrite")
    detector = load_detector(args.models, models_dir=args.models_dir)
    with progress_bar("Evaluating") as progress:
        report = evaluate_on(args.on, detector, models_dir=args.models_dir, progress=progress)
    print(f"{report['path']}: {report['scored']:,} of {report['images']:,} images scored "
          f"({report['counts']['REAL']:,} REAL, {report['counts']['FAKE']:,} FAKE); "
          f"{report['flag_rate']:.1%} off-distribution")
    percent = lambda v: "     –" if v is None else f"{v:6.1%}"  # noqa: E731
    number = lambda v: "    –" if v is None else f"{v:.3f}"  # noqa: E731
    print(f"{'model':16s} {'acc':>6s} {'AUROC':>6s} {'acc unflagged':>14s} "
          f"{'CIFAKE acc':>10s} {'CIFAKE AUROC':>12s}")
    for name, m in report["models"].items():
        print(f"{name:16s} {percent(m['accuracy'])} {number(m['auroc']):>6s} "
              f"{percent(m['accuracy_unflagged']):>14s} {percent(m['cifake_test_accuracy']):>10s}"
              f" {number(m['cifake_test_auroc']):>12s}")
    ensemble = report["models"]["ensemble"]["mistakes"]
    if ensemble:
        print("most confident mistakes of the ensemble:")
        for m in ensemble:
            print(f"  {m['path']} ({m['label']}, P(FAKE) {m['p_fake']:.3f})")
    for error in report["errors"]:
        print(f"unreadable: {error['path']}: {error['message']}", file=sys.stderr)
    if args.json:
        write_atomic(args.json, json.dumps(report, indent=1).encode())
    return 0
