"""``python -m core info``: counts, duplicate groups and the train->test leak of a dataset."""

from __future__ import annotations

import json

from core.cli.common import add_data_arguments, command_parser, load_data
from core.data.quality import duplicate_report

__all__ = ["main"]


def main(argv: list[str]) -> int:
    parser = command_parser("info")
    add_data_arguments(parser, size=True)
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    dataset = load_data(args.data, args.size)
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
