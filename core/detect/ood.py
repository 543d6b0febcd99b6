"""Off-distribution checks: whether an input is far from what the models learned (32x32 JPEGs at
quality 75 from CIFAR-10 and Stable Diffusion 1.4), by rules on the file and by a learned score.

The learned score is the Mahalanobis distance of a model's penultimate features (the layer named
``features``) to a Gaussian fitted on training images (Ledoit-Wolf shrinkage), divided by a
cut-off chosen on validation images so that at most ``FLAG_RATE`` of them lie beyond it: this
off-distribution ratio above 1 is off-distribution. The fitted Gaussians live in
``models/ood.json`` (``python -m core ood``; fitted by ``core.detect.ood_fit``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from core.data.imageio import CIFAKE_JPEG_QUALITY, ImageInfo
from core.models.artifacts import MODELS_DIR, read_json, write_json

__all__ = [
    "FLAG_RATE",
    "INCONCLUSIVE",
    "MAX_SIDE",
    "MIN_SIDE",
    "QUALITY_TOLERANCE",
    "REPORT",
    "Gaussian",
    "OodCheck",
    "choose",
    "cutoff_for",
    "fit_gaussian",
    "from_report",
    "judge",
    "load_gaussians",
    "rule_reasons",
    "to_report",
    "write_gaussians",
]

REPORT = "ood.json"
FLAG_RATE = 0.05  # the largest share of validation images the learned cut-off flags
INCONCLUSIVE = "inconclusive: outside what the models learned"
MAX_SIDE = 64  # a side above this is far from 32 pixels
MIN_SIDE = 16  # and one below this
ASPECT = (0.8, 1.25)  # width / height outside this is far from square
QUALITY_TOLERANCE = 10  # an estimated JPEG quality further than this from 75 is unusual


def rule_reasons(info: ImageInfo) -> list[str]:
    """The ways a file's size, aspect, format, colour mode and JPEG quality differ from the
    training images, in plain words (empty when none does)."""
    reasons = []
    width, height = info.width, info.height
    if max(width, height) > MAX_SIDE or min(width, height) < MIN_SIDE:
        kind = "photo" if max(width, height) > MAX_SIDE else "image"
        reasons.append(f"{width}x{height} {kind}: the models only learned 32x32 images")
    elif not ASPECT[0] <= width / max(height, 1) <= ASPECT[1]:
        reasons.append(f"{width}x{height} image: the models only learned square 32x32 images")
    if info.format != "JPEG":
        reasons.append(f"{info.format} file: the models only learned JPEG q{CIFAKE_JPEG_QUALITY}")
    else:
        if info.mode != "RGB":
            reasons.append(f"{info.mode} JPEG: the models only learned colour (RGB) JPEGs")
        if info.jpeg_quality is not None and \
                abs(info.jpeg_quality - CIFAKE_JPEG_QUALITY) > QUALITY_TOLERANCE:
            reasons.append(f"JPEG quality {info.jpeg_quality}: the models only learned JPEG "
                           f"q{CIFAKE_JPEG_QUALITY}")
    return reasons


@dataclass(frozen=True)
class Gaussian:
    """The training distribution of one model's penultimate features.

    Attributes
    ----------
    model, sha256 : str
        The model and the file version the features come from.
    mean : ndarray, shape (d,)
    precision : ndarray, shape (d, d)
        Inverse of the shrunk covariance.
    cutoff : float
        The Mahalanobis distance at or below which ``1 - FLAG_RATE`` of validation images lie.
    """

    model: str
    sha256: str
    mean: np.ndarray
    precision: np.ndarray
    cutoff: float = float("inf")

    def distance(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each row of ``features`` to the mean, shape (n,)."""
        centred = np.asarray(features, np.float64) - self.mean
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", centred, self.precision, centred), 0))

    def ratio(self, features: np.ndarray) -> np.ndarray:
        """The off-distribution ratio: distance divided by the cut-off (above 1 is
        off-distribution), shape (n,)."""
        return self.distance(features) / self.cutoff


def fit_gaussian(features: np.ndarray, model: str = "", sha256: str = "") -> Gaussian:
    """A Gaussian with Ledoit-Wolf shrinkage fitted on training ``features`` (no cut-off yet)."""
    from sklearn.covariance import LedoitWolf

    features = np.asarray(features, np.float64)
    if len(features) < 2:
        raise ValueError("fitting the feature distribution needs at least 2 images")
    fitted = LedoitWolf().fit(features)
    return Gaussian(model, sha256, fitted.location_, fitted.precision_)


def cutoff_for(distances: np.ndarray, rate: float = FLAG_RATE) -> float:
    """The smallest observed distance with at most ``rate`` of ``distances`` above it."""
    ordered = np.sort(np.asarray(distances, np.float64))
    if not len(ordered):
        raise ValueError("calibrating the cut-off needs at least one validation image")
    return float(ordered[min(len(ordered) - 1, int(np.ceil((1 - rate) * len(ordered))) - 1)])


def to_report(gaussian: Gaussian) -> dict:
    """The JSON form of a fitted Gaussian (floats to 7 significant digits)."""
    return {"model": gaussian.model, "sha256": gaussian.sha256, "cutoff": gaussian.cutoff,
            "dim": int(len(gaussian.mean)),
            "mean": [float(f"{v:.7g}") for v in gaussian.mean],
            "precision": [[float(f"{v:.7g}") for v in row] for row in gaussian.precision]}


def from_report(entry: dict) -> Gaussian:
    """A Gaussian from its ``to_report`` form."""
    return Gaussian(entry["model"], entry.get("sha256", ""), np.asarray(entry["mean"]),
                    np.asarray(entry["precision"]), float(entry["cutoff"]))


def load_gaussians(models_dir: str | os.PathLike = MODELS_DIR) -> dict[str, Gaussian]:
    """The fitted Gaussians in ``models/ood.json`` by model name (empty when there is none)."""
    report = read_json(REPORT, models_dir) or {}
    return {name: from_report(entry) for name, entry in report.get("models", {}).items()}


def write_gaussians(gaussians: dict[str, Gaussian], models_dir: str | os.PathLike = MODELS_DIR,
                    *, measured: dict | None = None) -> None:
    """Write ``models/ood.json``: each model's Gaussian (``load_gaussians`` reads it back), with
    ``measured``'s top-level entries and, from its ``models``, each model's measurements."""
    measured = measured or {}
    report = {"flag_rate_target": FLAG_RATE,
              **{k: v for k, v in measured.items() if k != "models"}, "models": {}}
    for name, gaussian in gaussians.items():
        report["models"][name] = {**to_report(gaussian),
                                  **measured.get("models", {}).get(name, {})}
    write_json(report, REPORT, models_dir)


def choose(gaussians: dict[str, Gaussian], models: dict[str, str],
           prefer: tuple[str, ...] = ()) -> Gaussian | None:
    """The Gaussian for one of ``models`` (name -> loaded file's sha256) whose file version
    matches: the first of ``prefer`` that has one, else the first of ``models``; None if none."""
    usable = [n for n in models if n in gaussians and gaussians[n].sha256 in ("", models[n])]
    ranked = [n for n in prefer if n in usable] + usable
    return gaussians[ranked[0]] if ranked else None


@dataclass(frozen=True)
class OodCheck:
    """Whether one input is off-distribution: ``ratio`` (learned distance / cut-off; None
    without a learned measure) and ``reason`` in plain words ("" when in-distribution)."""

    ratio: float | None
    reason: str

    @property
    def flagged(self) -> bool:
        return bool(self.reason)


def judge(info: ImageInfo | None, ratio: float | None,
          gaussian: Gaussian | None = None) -> OodCheck:
    """The off-distribution check of one input from its file ``info`` (None for arrays: no file
    rules) and its off-distribution ``ratio`` from ``gaussian``."""
    reasons = rule_reasons(info) if info is not None else []
    if ratio is not None and gaussian is not None and ratio > 1:
        reasons.append(f"unusual for the {gaussian.model}'s features (distance "
                       f"{ratio * gaussian.cutoff:.1f} > cut-off {gaussian.cutoff:.1f})")
    return OodCheck(None if ratio is None else float(ratio), "; ".join(reasons))
