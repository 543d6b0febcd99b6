"""Command line: ``python -m core info|stats --data PATH``.

    python -m core info --data ../shared/data/cifake.zip --json
    python -m core stats --data ../shared/data/cifake.zip
"""

from __future__ import annotations

import argparse
import json
import sys

from core.data.dataset import DEFAULT_SIZE, load_dataset
from core.data.quality import duplicate_report
from core.data.sources import SUMMARY_DIR, resolve_source
from core.errors import DataError
from core.progress import progress_bar


def _load(args):
    source = resolve_source(args.data)
    with progress_bar("Loading") as progress:
        return load_dataset(source, size=args.size, progress=progress)


def cmd_info(args) -> int:
    dataset = _load(args)
    report = duplicate_report(dataset.hashes, dataset.labels, dataset.splits).summary
    info = {
        "source": dataset.source,
        "size": dataset.size,
        "split_given": dataset.split_given,
        "counts": dataset.counts(),
        "class_counts": dataset.class_counts(),
        **report,
        "skipped": [{"path": p, "reason": r} for p, r in dataset.skipped],
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"Source: {info['source']} (images at {info['size']}x{info['size']})")
    if not dataset.split_given:
        print("No train/test folders: a seeded, stratified split was made.")
    print(f"{'split':<6} {'REAL':>8} {'FAKE':>8}")
    for split, row in info["counts"].items():
        print(f"{split:<6} {row['REAL']:>8,} {row['FAKE']:>8,}")
    print("Per class (train REAL / FAKE, test REAL / FAKE):")
    classes = info["class_counts"]
    names = sorted({c for s in classes.values() for lab in s.values() for c in lab})
    for name in names:
        cells = [classes[s][lab].get(name, 0) for s in classes for lab in classes[s]]
        print(f"  {name:<11} " + " / ".join(f"{n:,}" for n in cells))
    print(f"Duplicate groups (identical bytes): {report['duplicate_groups']:,} "
          f"({report['redundant_copies']:,} redundant copies)")
    print(f"Test images leaked from train: {report['leaked_test']:,}; "
          f"leak-free test: {report['leakfree_test']:,}")
    if dataset.skipped:
        print(f"Skipped {len(dataset.skipped):,} unreadable file(s):")
        for path, reason in dataset.skipped[:20]:
            print(f"  {path}: {reason}")
        if len(dataset.skipped) > 20:
            print(f"  ... and {len(dataset.skipped) - 20:,} more (see --json)")
    return 0


def cmd_stats(args) -> int:
    from core.analysis.summary import write_summary  # scikit-learn and openTSNE load only for this command

    dataset = _load(args)
    with progress_bar("Statistics") as progress:
        written = write_summary(dataset, out_dir=args.out, sample=args.sample, progress=progress)
    for path in written:
        print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", help="CIFAKE zip or folder (default: $CIFAKE_PATH, then "
                        "data/cifake.zip, data/cifake/, ../shared/data/cifake.zip)")
    common.add_argument("--size", type=int, default=DEFAULT_SIZE,
                        help="side in pixels images are resized to (default %(default)s)")
    info = sub.add_parser("info", parents=[common], help="counts, duplicates and train->test leak")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(run=cmd_info)
    stats = sub.add_parser("stats", parents=[common],
                           help="recompute the committed statistics and embeddings")
    stats.add_argument("--out", default=str(SUMMARY_DIR), help="output folder (default %(default)s)")
    stats.add_argument("--sample", type=int, default=2000, help="embedding sample size")
    stats.set_defaults(run=cmd_stats)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
