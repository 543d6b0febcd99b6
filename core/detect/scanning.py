"""Scanning files: image files, folders and zips (or uploads), listed then read, into one row per
file with every model's P(FAKE), the ensemble's verdict, the off-distribution check and the
stability check; the rows as CSV or JSON (``python -m core predict``, Batch scan, the service,
and ``cluster_scan`` on a cluster)."""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    "SCAN_CHUNK",
    "FileEntry",
    "iter_image_files",
    "iter_uploads",
    "list_image_files",
    "read_entries",
    "rows_to_csv",
    "rows_to_json",
    "scan",
    "score_files",
    "source_entries",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
MAX_FILE_BYTES = 50 * 2**20
# columns kept under an older name for one release: old name -> the column that replaces it
DEPRECATED_COLUMNS = {"ood_score": "ood_ratio"}
# files scored as one batch: a file's scores depend only on the files of its chunk, so that a scan
# split into chunks anywhere else (on a cluster) gives the same rounded scores
SCAN_CHUNK = 1024


@dataclass(frozen=True)
class FileEntry:
    """One file of a scan, listed but not read yet.

    Attributes
    ----------
    path : str
        The name its row carries.
    file : str
        The file to read: the image itself, or the zip that holds it.
    member : str
        The image's name inside the zip ("" for a file on disk).
    problem : str
        Why it cannot be read, when that is known from the listing ("" otherwise).
    """

    path: str
    file: str = ""
    member: str = ""
    problem: str = ""


def list_image_files(paths: Sequence[str | os.PathLike]) -> list[FileEntry]:
    """Every image file named or found in ``paths``, in scan order, without reading any.

    Files named directly are always listed; folders are searched recursively for
    ``IMAGE_SUFFIXES`` and zips, and a zip lists the images inside it (its index is read).
    """
    entries = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file()
                           and p.suffix.lower() in (*IMAGE_SUFFIXES, ".zip"))
            entries += list_image_files(found)
        elif path.is_file() and path.suffix.lower() == ".zip":
            try:
                with zipfile.ZipFile(path) as archive:
                    members = _image_members(archive)
            except (zipfile.BadZipFile, OSError) as exc:
                entries.append(FileEntry(str(path), problem=f"not a readable zip file ({exc})"))
                continue
            entries += [FileEntry(f"{path}/{m}", str(path), m) for m in members]
        else:
            entries.append(FileEntry(str(path), str(path)))
    return entries


def source_entries(source: str | os.PathLike, members: list[str]) -> list[FileEntry]:
    """The images ``members`` (paths inside a zip, or relative to a folder) of a zip or folder
    ``source``, each row named by its member path."""
    source = Path(source)
    if source.is_file():
        return [FileEntry(m, str(source), m) for m in members]
    return [FileEntry(m, str(source / m)) for m in members]


def read_entries(entries: Iterable[FileEntry]) -> Iterator[tuple[str, bytes | None, str]]:
    """Read listed files one at a time: ``(path, data, problem)``. ``data`` is None when the file
    cannot be read (``problem`` says why); files over ``MAX_FILE_BYTES`` are not read."""
    opened: tuple[str, zipfile.ZipFile | str] | None = None  # the zip of the last member read
    try:
        for entry in entries:
            if entry.problem:
                yield entry.path, None, entry.problem
            elif not entry.member:
                yield _read_file(Path(entry.file), entry.path)
            else:
                if opened is None or opened[0] != entry.file:
                    _close(opened)
                    opened = entry.file, _open_zip(entry.file)
                archive = opened[1]
                yield ((entry.path, None, archive) if isinstance(archive, str)
                       else _read_member(archive, entry.member, entry.path))
    finally:
        _close(opened)


def iter_image_files(paths: Sequence[str | os.PathLike]) -> Iterator[tuple[str, bytes | None, str]]:
    """Every image file named or found in ``paths``, read: ``(path, data, problem)``
    (``list_image_files``, then ``read_entries``)."""
    return read_entries(list_image_files(paths))


def iter_uploads(uploads: list[tuple[str, bytes]]) -> Iterator[tuple[str, bytes | None, str]]:
    """Uploaded ``(name, bytes)`` files as ``iter_image_files`` yields them: zips entry by
    entry, everything else as one file."""
    for name, data in uploads:
        if name.lower().endswith(".zip"):
            archive = _open_zip(io.BytesIO(data))
            if isinstance(archive, str):
                yield name, None, archive
                continue
            with archive:
                for member in _image_members(archive):
                    yield _read_member(archive, member, f"{name}/{member}")
        elif len(data) > MAX_FILE_BYTES:
            yield name, None, _too_large(len(data))
        else:
            yield name, data, ""


def _read_file(path: Path, label: str) -> tuple[str, bytes | None, str]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return label, None, _too_large(path.stat().st_size)
        return label, path.read_bytes(), ""
    except FileNotFoundError:
        return label, None, "no such file or folder"
    except OSError as exc:
        return label, None, f"cannot read the file ({exc.strerror or exc})"


def _open_zip(file) -> zipfile.ZipFile | str:
    """The zip at ``file`` (a path or a binary file object), or why it cannot be opened."""
    try:
        return zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError) as exc:
        return f"not a readable zip file ({exc})"


def _close(opened: tuple[str, zipfile.ZipFile | str] | None) -> None:
    if opened is not None and not isinstance(opened[1], str):
        opened[1].close()


def _image_members(archive: zipfile.ZipFile) -> list[str]:
    """The names of the images in a zip, sorted."""
    return sorted(i.filename for i in archive.infolist()
                  if not i.is_dir() and i.filename.lower().endswith(IMAGE_SUFFIXES))


def _read_member(archive: zipfile.ZipFile, member: str,
                 label: str) -> tuple[str, bytes | None, str]:
    try:
        size = archive.getinfo(member).file_size
        if size > MAX_FILE_BYTES:
            return label, None, _too_large(size)
        return label, archive.read(member), ""
    except (KeyError, zipfile.BadZipFile, OSError, RuntimeError, ValueError) as exc:
        return label, None, f"cannot read this zip entry ({exc})"


def _too_large(n_bytes: int) -> str:
    return f"file too large ({n_bytes / 2**20:.0f} MB; limit {MAX_FILE_BYTES / 2**20:.0f} MB)"


def scan(files: Iterable[tuple[str, bytes | None, str]], detector: Detector, *,
         view: str = "resize", check_stability: bool = True, chunk: int = SCAN_CHUNK,
         progress: ProgressFn = silent) -> list[dict]:
    """One row per file (``score_files``), the files scored ``chunk`` at a time in order."""
    files = list(files)
    rows: list[dict] = []
    for start in range(0, len(files), chunk):
        part = files[start:start + chunk]
        rows += score_files(part, detector, view=view, check_stability=check_stability,
                            progress=_part(progress, start, len(part), len(files)),
                            total=len(part))
    progress(1.0, f"Scanned {len(rows):,} files")
    return rows


def _part(progress: ProgressFn, start: int, size: int, total: int) -> ProgressFn:
    """``progress`` of the files ``start`` to ``start + size`` of ``total``."""
    if size == total:
        return progress

    def report(fraction: float, message: str) -> None:
        progress((start + fraction * size) / total,
                 f"Files {start + 1:,}–{start + size:,} of {total:,}: {message}")

    return report


def score_files(files: Iterable[tuple[str, bytes | None, str]], detector: Detector, *,
                view: str = "resize", check_stability: bool = True,
                progress: ProgressFn = silent, total: int = 0) -> list[dict]:
    """One row per file, its models scored in one batch: ``path``, ``bytes``, ``format``,
    ``width``, ``height``, ``status`` (``ok`` or ``error``), ``message``, ``p_fake_<model>`` per
    model and for the ensemble, ``verdict`` (the ensemble's, or ``ood.INCONCLUSIVE`` for an
    off-distribution input), ``ood_ratio`` (the off-distribution ratio: learned distance /
    cut-off, by the scanner's features when it is loaded; above 1 is off-distribution),
    ``ood_reason`` ("" when in-distribution), with ``check_stability`` ``stability``, and last
    ``ood_score``, the ratio's older name (``DEPRECATED_COLUMNS``).

    ``files`` are read one at a time (as ``read_entries`` yields them); ``total``, their number
    when known, lets ``progress`` count them.
    """
    rows, inputs, ok_rows, infos = [], [], [], []
    for i, (path, data, problem) in enumerate(files):
        if total:
            progress(0.5 * i / total, f"Decoding {i + 1:,} / {total:,} files")
        row: dict[str, Any] = {
            "path": path, "bytes": None if data is None else len(data), "format": "",
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
        scores, features = detector.score_with_features(batch, gaussian.model if gaussian
                                                        else None)
        ratios = (gaussian.ratio(features) if gaussian is not None and features is not None
                  else None)
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
