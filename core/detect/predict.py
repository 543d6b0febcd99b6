"""Score images with the shipped models: preprocessing, verdicts with an inconclusive band, the
ensemble, the stability check, tiled analysis and batch scanning.

    python -m core predict PATH [PATH ...] [--model NAME ...] [--csv OUT | --json OUT]
                           [--view resize|crop] [--no-stability] [--overwrite]

PATHs are image files, folders (scanned recursively) or zips (every image inside). Files that
cannot be read get a row with ``status`` ``error`` and the reason; the exit code is 0 whenever
the scan finished.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.data.imageio import decode_image, describe_image, resize_square
from core.data.perturb import STABILITY_CHECKS
from core.detect import ood
from core.errors import ImageError
from core.models.artifacts import MODELS_DIR, Predictor, list_reports, load_predictor
from core.models.metrics import ensemble_scores
from core.progress import ProgressFn, silent

__all__ = [
    "ENSEMBLE",
    "IMAGE_SUFFIXES",
    "INCONCLUSIVE_BAND",
    "MAX_FILE_BYTES",
    "VIEWS",
    "Detector",
    "Stability",
    "TileScores",
    "iter_image_files",
    "inconclusive_band",
    "iter_uploads",
    "load_detector",
    "prepare",
    "rows_to_csv",
    "rows_to_json",
    "scan",
    "scan_models",
    "score_tiles",
    "stability",
    "tiles",
    "verdict",
]

INCONCLUSIVE_BAND = 0.1  # |P(FAKE) - threshold| below this is "inconclusive"
ENSEMBLE = "ensemble"
ENSEMBLE_SIZE = 3  # the default ensemble: the best models by test accuracy
SCANNER = "scanner"  # the default model of folder scans (fast, distilled from the flagship)
VIEWS = {"resize": "whole image resized", "crop": "centre square crop, resized"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
MAX_FILE_BYTES = 50 * 2**20


# ---------------------------------------------------------------- preprocessing


def prepare(image: np.ndarray, size: int, view: str = "resize") -> np.ndarray:
    """The model input for an RGB image: the whole image resized to ``size`` x ``size``
    (``view="resize"``) or its central square resized (``view="crop"``)."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose from {list(VIEWS)}")
    if view == "crop":
        height, width = image.shape[:2]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        image = image[top:top + side, left:left + side]
    return resize_square(image, size)


def tiles(image: np.ndarray, size: int, grid: int) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Split an image into ``grid`` x ``grid`` regions, each resized to the model input.

    Returns the inputs, shape (grid * grid, size, size, 3), row by row, and each region's
    ``(top, left, bottom, right)`` box in the image.
    """
    height, width = image.shape[:2]
    rows = np.linspace(0, height, grid + 1).round().astype(int)
    cols = np.linspace(0, width, grid + 1).round().astype(int)
    boxes = [(rows[r], cols[c], rows[r + 1], cols[c + 1]) for r in range(grid) for c in range(grid)]
    inputs = np.stack([resize_square(image[top:bottom, left:right], size)
                       for top, left, bottom, right in boxes])
    return inputs, [tuple(int(v) for v in box) for box in boxes]


# ---------------------------------------------------------------- verdicts


def verdict(p_fake: float, threshold: float, band: float = INCONCLUSIVE_BAND) -> str:
    """``"FAKE"`` or ``"REAL"`` by the side of ``threshold`` that ``p_fake`` falls on, or
    ``"inconclusive"`` inside the band around it.

    The band is ``threshold ± band`` at threshold 0.5 and narrows in proportion on the side
    where the threshold leaves less room (a threshold of 0.1 has ``0.1 - band / 5`` below it).
    """
    low, high = inconclusive_band(threshold, band)
    if low <= p_fake < high:
        return "inconclusive"
    return "FAKE" if p_fake >= threshold else "REAL"


def inconclusive_band(threshold: float, band: float = INCONCLUSIVE_BAND) -> tuple[float, float]:
    """The ``[low, high)`` interval of P(FAKE) reported as inconclusive."""
    return threshold - 2 * band * threshold, threshold + 2 * band * (1 - threshold)


@dataclass
class Detector:
    """The loaded models with their validation-chosen thresholds and the ensemble members.

    Attributes
    ----------
    predictors : dict of name -> Predictor, best test accuracy first
    thresholds : dict of name -> float
    ensemble : list of str
        Models averaged by the ensemble (threshold 0.5).
    size : int
        The input side all models share.
    families : dict of name -> str
    gaussians : dict of name -> ood.Gaussian
        The training distribution of the loaded models' features that ``models/ood.json``
        holds for these model files (the off-distribution score).
    """

    predictors: dict[str, Predictor]
    thresholds: dict[str, float]
    ensemble: list[str]
    size: int
    families: dict[str, str] = field(default_factory=dict)
    gaussians: dict[str, ood.Gaussian] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return list(self.predictors)

    def score(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """P(FAKE) of every model and of the ensemble for a batch of model inputs."""
        return self.score_with_features(images)[0]

    def score_with_features(self, images: np.ndarray, name: str | None = None
                            ) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """``score`` and, from the same forward pass, model ``name``'s penultimate features
        (None without ``name``)."""
        scores, features = {}, None
        for model, p in self.predictors.items():
            if model == name:
                scores[model], features = p.predict_with_features(images)
            else:
                scores[model] = p.predict(images)
        scores[ENSEMBLE] = ensemble_scores(scores, self.ensemble).astype(np.float32)
        return scores, features

    def threshold(self, name: str) -> float:
        return 0.5 if name == ENSEMBLE else self.thresholds[name]

    def ood_gaussian(self, prefer: tuple[str, ...] = (SCANNER,)) -> ood.Gaussian | None:
        """The fitted feature distribution of the first model of ``prefer`` that has one (else
        of the most accurate such model); None when no loaded model has one."""
        return ood.choose(self.gaussians, {n: p.sha256 for n, p in self.predictors.items()},
                          prefer)


def load_detector(names: list[str] | None = None, *, ensemble: list[str] | None = None,
                  models_dir: str | os.PathLike = MODELS_DIR,
                  load: Callable[[str], Predictor] | None = None) -> Detector:
    """Load the evaluated models (all of them, or ``names``) for one input size.

    The ensemble defaults to the ``ENSEMBLE_SIZE`` chosen models with the best test accuracy.
    ``load`` maps a model name to its Predictor (default ``load_predictor`` from
    ``models_dir``). Raises ValueError for unknown names or models of different input sizes.
    """
    load = load or (lambda name: load_predictor(name, models_dir))
    reports = [r for r in list_reports(models_dir) if "metrics" in r]
    by_name = {r["name"]: r for r in reports}
    if names:
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ValueError(f"unknown model(s) {unknown}; available: {sorted(by_name)}")
        reports = [by_name[n] for n in names]
    if not reports:
        raise ValueError(f"no evaluated models in {models_dir}")
    reports.sort(key=lambda r: -r["metrics"]["test"]["at_threshold"]["accuracy"])
    sizes = {int(r.get("input_size", 32)) for r in reports}
    if len(sizes) > 1:
        raise ValueError(f"the models take different input sizes {sorted(sizes)}; choose "
                         "models of one size with --model")
    chosen = [r["name"] for r in reports]
    ensemble = ensemble or chosen[:ENSEMBLE_SIZE]
    if set(ensemble) - set(chosen):
        raise ValueError(f"ensemble models {sorted(set(ensemble) - set(chosen))} are not loaded")
    gaussians = ood.load_gaussians(models_dir)
    return Detector(
        predictors={r["name"]: load(r["name"]) for r in reports},
        thresholds={r["name"]: float(r["threshold"]) for r in reports},
        ensemble=list(ensemble),
        size=sizes.pop(),
        families={r["name"]: r.get("family", "") for r in reports},
        gaussians={r["name"]: gaussians[r["name"]] for r in reports
                   if gaussians.get(r["name"]) and gaussians[r["name"]].sha256
                   in ("", r.get("sha256", ""))},
    )


def scan_models(models_dir: str | os.PathLike = MODELS_DIR) -> list[str] | None:
    """The models a folder scan uses unless told otherwise: the scanner when it is evaluated,
    else every evaluated model (None)."""
    evaluated = {r["name"] for r in list_reports(models_dir) if "metrics" in r}
    return [SCANNER] if SCANNER in evaluated else None


@dataclass(frozen=True)
class Stability:
    """The stability check of a batch of model inputs.

    Attributes
    ----------
    original : dict of name -> ndarray
        P(FAKE) of every model and of the ensemble for each input.
    degraded : dict of check -> (dict of name -> ndarray)
        The same for the copies changed by each of ``STABILITY_CHECKS``.
    inputs : dict of check -> ndarray
        The changed copies.
    flipped : dict of check -> (dict of name -> bool ndarray)
        Per input, whether that check's copy lands on the other side of the model's threshold
        than the original.
    """

    original: dict[str, np.ndarray]
    degraded: dict[str, dict[str, np.ndarray]]
    inputs: dict[str, np.ndarray]
    flipped: dict[str, dict[str, np.ndarray]]

    @property
    def flips(self) -> dict[str, np.ndarray]:
        """Per model and the ensemble, per input: whether some check flips the verdict."""
        return {name: np.any([by_check[name] for by_check in self.flipped.values()], axis=0)
                for name in self.original}

    @property
    def stable(self) -> bool:
        """Whether the ensemble's verdict on every input holds under every check."""
        return not self.flips[ENSEMBLE].any()

    def flipped_by(self, name: str, index: int = 0) -> list[str]:
        """The checks that flip model ``name``'s verdict on input ``index``."""
        return [check for check, by_check in self.flipped.items() if by_check[name][index]]


def stability(detector: Detector, inputs: np.ndarray,
              original: dict[str, np.ndarray] | None = None) -> Stability:
    """Score model inputs (unless their ``original`` scores are given) and their copies changed
    by each of ``STABILITY_CHECKS``."""
    original = detector.score(inputs) if original is None else original
    scores, flipped = {}, {}
    changed = {check: change(inputs) for check, change in STABILITY_CHECKS.items()}
    for check, copies in changed.items():
        scores[check] = detector.score(copies)
        flipped[check] = {name: (p >= detector.threshold(name))
                          != (original[name] >= detector.threshold(name))
                          for name, p in scores[check].items()}
    return Stability(original, scores, changed, flipped)


@dataclass(frozen=True)
class TileScores:
    """The ensemble's P(FAKE) of each region of a ``tiles`` grid, with the regions' boxes."""

    boxes: list[tuple[int, ...]]
    p_fake: np.ndarray
    threshold: float

    @property
    def n_fake(self) -> int:
        """How many regions the ensemble calls FAKE."""
        return int((self.p_fake >= self.threshold).sum())

    @property
    def mean(self) -> float:
        """The mean P(FAKE) over the regions."""
        return float(self.p_fake.mean())


def score_tiles(detector: Detector, image: np.ndarray, grid: int) -> TileScores:
    """Score each region of a ``grid`` x ``grid`` split of ``image`` with the ensemble."""
    inputs, boxes = tiles(image, detector.size, grid)
    return TileScores(boxes, detector.score(inputs)[ENSEMBLE], detector.threshold(ENSEMBLE))


# ---------------------------------------------------------------- batch scanning


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
    ``ood_score`` (the learned distance / cut-off, by the scanner's features when it is loaded),
    ``ood_reason`` ("" when in-distribution) and, with ``check_stability``, ``stability``."""
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
        row.update({f"p_fake_{n}": None for n in names}, verdict="", ood_score=None,
                   ood_reason="")
        if check_stability:
            row["stability"] = ""
    if inputs:
        progress(0.5, f"Scoring {len(inputs):,} images")
        batch = np.stack(inputs)
        gaussian = detector.ood_gaussian()
        scores, features = detector.score_with_features(batch, gaussian and gaussian.model)
        distances = None if gaussian is None else gaussian.score(features)
        flips = stability(detector, batch, scores).flips[ENSEMBLE] if check_stability else None
        for i, row in enumerate(ok_rows):
            row.update({f"p_fake_{n}": round(float(scores[n][i]), 6) for n in names})
            check = ood.judge(infos[i], None if distances is None else distances[i], gaussian)
            row["verdict"] = (ood.INCONCLUSIVE if check.flagged
                              else verdict(float(scores[ENSEMBLE][i]), 0.5))
            row["ood_score"] = None if check.score is None else round(check.score, 3)
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


def main(argv: list[str] | None = None) -> int:
    from core.data.files import write_atomic
    from core.progress import progress_bar

    parser = argparse.ArgumentParser(prog="python -m core predict",
                                     description=__doc__.splitlines()[0])
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
    parser.add_argument("--models-dir", default=str(MODELS_DIR), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    target = args.csv or args.json
    if target and Path(target).exists() and not args.overwrite:
        print(f"error: {target} exists; choose another name or pass --overwrite", file=sys.stderr)
        return 2
    try:
        detector = load_detector(args.models or scan_models(args.models_dir),
                                 models_dir=args.models_dir)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with progress_bar("Scanning") as progress:
        rows = scan(iter_image_files(args.paths), detector, view=args.view,
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
          f"{errors:,} errors"
          + (f" -> {target}" if target else ""), file=sys.stderr)
    return 0

