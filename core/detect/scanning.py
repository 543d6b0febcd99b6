"""Scanning files: image files, folders and zips (or uploads) into one row per file with every
model's P(FAKE), the ensemble's verdict, the off-distribution check and the stability check; the
rows as CSV or JSON (``python -m core predict``, Batch scan, the service)."""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from core.data.imageio import decode_image, describe_image
from core.detect import ood
from core.detect.detector import ENSEMBLE, Detector, prepare, verdict
from core.detect.stability import stability
from core.errors import ImageError
from core.progress import ProgressFn, silent

__all__ = [
    "DEPRECATED_COLUMNS",
    "IMAGE_SUFFIXES",
    "MAX_FILE_BYTES",
    "iter_image_files",
    "iter_uploads",
    "rows_to_csv",
    "rows_to_json",
    "scan",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
MAX_FILE_BYTES = 50 * 2**20
# columns kept under an older name for one release: old name -> the column that replaces it
DEPRECATED_COLUMNS = {"ood_score": "ood_ratio"}


def iter_image_files(paths: list[str | os.PathLike]) -> Iterator[tuple[str, bytes | None, str]]:
    """Every image file named or found in ``paths``: ``(path, data, problem)``.

    Files named directly are always read; folders are searched recursively for
    ``IMAGE_SUFFIXES`` and zips, and zips are read entry by entry. ``data`` is None when the
    file cannot be read (``problem`` says why); files over ``MAX_FILE_BYTES`` are not read.
    """
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file()
                           and p.suffix.lower() in (*IMAGE_SUFFIXES, ".zip"))
            yield from iter_image_files(found)
        elif path.is_file() and path.suffix.lower() == ".zip":
            yield from _zip_members(path, str(path))
        else:
            yield _read_file(path)


def iter_uploads(uploads: list[tuple[str, bytes]]) -> Iterator[tuple[str, bytes | None, str]]:
    """Uploaded ``(name, bytes)`` files as ``iter_image_files`` yields them: zips entry by
    entry, everything else as one file."""
    for name, data in uploads:
        if name.lower().endswith(".zip"):
            yield from _zip_members(io.BytesIO(data), name)
        elif len(data) > MAX_FILE_BYTES:
            yield name, None, _too_large(len(data))
        else:
            yield name, data, ""


def _read_file(path: Path) -> tuple[str, bytes | None, str]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return str(path), None, _too_large(path.stat().st_size)
        return str(path), path.read_bytes(), ""
    except FileNotFoundError:
        return str(path), None, "no such file or folder"
    except OSError as exc:
        return str(path), None, f"cannot read the file ({exc.strerror or exc})"


def _zip_members(file, label: str) -> Iterator[tuple[str, bytes | None, str]]:
    """The images in a zip (a path or a binary file object) named ``label``."""
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError) as exc:
        yield label, None, f"not a readable zip file ({exc})"
        return
    with archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            name = f"{label}/{info.filename}"
            if info.is_dir() or not info.filename.lower().endswith(IMAGE_SUFFIXES):
                continue
            if info.file_size > MAX_FILE_BYTES:
                yield name, None, _too_large(info.file_size)
                continue
            try:
                yield name, archive.read(info), ""
            except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as exc:
                yield name, None, f"cannot read this zip entry ({exc})"


def _too_large(n_bytes: int) -> str:
    return f"file too large ({n_bytes / 2**20:.0f} MB; limit {MAX_FILE_BYTES / 2**20:.0f} MB)"


def scan(files: Iterator[tuple[str, bytes | None, str]] | list, detector: Detector, *,
         view: str = "resize", check_stability: bool = True,
         progress: ProgressFn = silent) -> list[dict]:
    """One row per file: ``path``, ``bytes``, ``format``, ``width``, ``height``, ``status``
    (``ok`` or ``error``), ``message``, ``p_fake_<model>`` per model and for the ensemble,
    ``verdict`` (the ensemble's, or ``ood.INCONCLUSIVE`` for an off-distribution input),
    ``ood_ratio`` (the off-distribution ratio: learned distance / cut-off, by the scanner's
    features when it is loaded; above 1 is off-distribution), ``ood_reason`` ("" when
    in-distribution), with ``check_stability`` ``stability``, and last ``ood_score``, the
    ratio's older name (``DEPRECATED_COLUMNS``)."""
    files = list(files)
    rows, inputs, ok_rows, infos = [], [], [], []
    for i, (path, data, problem) in enumerate(files):
        progress(0.5 * i / max(len(files), 1), f"Decoding {i + 1:,} / {len(files):,} files")
        row = {"path": path, "bytes": None if data is None else len(data), "format": "",
               "width": None, "height": None, "status": "error", "message": problem}
        rows.append(row)
        if data is None:
            continue
        try:
            image = decode_image(data)
            info = describe_image(data)
        except ImageError as exc:
            row["message"] = str(exc)
            continue
        row.update(format=info.format, width=image.shape[1], height=image.shape[0],
                   status="ok", message="")
        inputs.append(prepare(image, detector.size, view))
        ok_rows.append(row)
        infos.append(info)
    names = [*detector.names, ENSEMBLE]
    for row in rows:
        row.update({f"p_fake_{n}": None for n in names}, verdict="", ood_ratio=None,
                   ood_reason="")
        if check_stability:
            row["stability"] = ""
        row["ood_score"] = None
    if inputs:
        progress(0.5, f"Scoring {len(inputs):,} images")
        batch = np.stack(inputs)
        gaussian = detector.ood_gaussian()
        scores, features = detector.score_with_features(batch, gaussian and gaussian.model)
        ratios = None if gaussian is None else gaussian.ratio(features)
        flips = stability(detector, batch, scores).flips[ENSEMBLE] if check_stability else None
        for i, row in enumerate(ok_rows):
            row.update({f"p_fake_{n}": round(float(scores[n][i]), 6) for n in names})
            check = ood.judge(infos[i], None if ratios is None else ratios[i], gaussian)
            row["verdict"] = (ood.INCONCLUSIVE if check.flagged
                              else verdict(float(scores[ENSEMBLE][i]), 0.5))
            row["ood_ratio"] = row["ood_score"] = (None if check.ratio is None
                                                   else round(check.ratio, 3))
            row["ood_reason"] = check.reason
            if flips is not None:
                row["stability"] = "unstable" if flips[i] else "stable"
    progress(1.0, f"Scanned {len(rows):,} files")
    return rows


def rows_to_csv(rows: list[dict]) -> str:
    """The scan table as CSV text (empty cells for missing values)."""
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return out.getvalue()


def rows_to_json(rows: list[dict]) -> str:
    return json.dumps(rows, indent=1)
