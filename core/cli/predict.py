"""``python -m core predict``: score image files, folders (recursively) and zips (every image
inside) with the shipped models; one row per file as CSV (default: to stdout) or JSON.

Files that cannot be read get a row with ``status`` ``error`` and the reason; the exit status is 0
whenever the scan finished."""

from __future__ import annotations

import sys
from pathlib import Path

from core.cli.common import add_cluster_argument, add_models_dir, command_parser

__all__ = ["main"]


def main(argv: list[str]) -> int:
    from core.detect.detector import SCANNER, VIEWS

    parser = command_parser("predict")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders or zips")
    parser.add_argument("--model", action="append", dest="models", metavar="NAME",
                        help=f"score with this model (repeatable; default: {SCANNER}, or every "
                        "evaluated model when it is absent)")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--csv", help="write the table as CSV to this file")
    out.add_argument("--json", help="write the table as JSON to this file")
    parser.add_argument("--view", choices=list(VIEWS), default="resize",
                        help="whole image resized (default) or its centre square")
    parser.add_argument("--no-stability", action="store_true",
                        help="skip re-scoring changed copies (5x fewer model calls)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    add_models_dir(parser)
    add_cluster_argument(parser)
    args = parser.parse_args(argv)
    target = args.csv or args.json
    if target and Path(target).exists() and not args.overwrite:
        raise ValueError(f"{target} exists; choose another name or pass --overwrite")

    from core.data.files import write_atomic
    from core.detect.detector import load_detector, scan_models
    from core.detect.scanning import list_image_files, read_entries, rows_to_csv, rows_to_json, scan
    from core.progress import progress_bar

    if args.cluster:
        from core.detect.cluster_scan import cluster_scan, parse_cluster

        parse_cluster(args.cluster)  # a malformed address fails before the models load
    detector = load_detector(args.models or scan_models(args.models_dir),
                             models_dir=args.models_dir)
    entries = list_image_files(args.paths)
    with progress_bar("Scanning") as progress:
        if args.cluster:
            rows = cluster_scan(entries, detector, args.cluster, models_dir=args.models_dir,
                                view=args.view, check_stability=not args.no_stability,
                                progress=progress)
        else:
            rows = scan(read_entries(entries), detector, view=args.view,
                        check_stability=not args.no_stability, progress=progress)
    text = rows_to_json(rows) if args.json else rows_to_csv(rows)
    if target:
        write_atomic(target, text.encode())
    else:
        sys.stdout.write(text)
    errors = sum(row["status"] == "error" for row in rows)
    fakes = sum(row["verdict"] == "FAKE" for row in rows)
    outside = sum(bool(row["ood_reason"]) for row in rows)
    print(f"{len(rows):,} files: {len(rows) - errors:,} scored ({fakes:,} FAKE by the ensemble of "
          f"{', '.join(detector.ensemble)}; {outside:,} inconclusive as off-distribution), "
          f"{errors:,} errors" + (f" -> {target}" if target else ""), file=sys.stderr)
    return 0
