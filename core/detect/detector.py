"""The loaded models as one detector: preprocessing to the model input, every model's P(FAKE),
the verdict with its inconclusive band, and the ensemble."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from core.data.imageio import resize_square
from core.detect import ood
from core.models.artifacts import MODELS_DIR, Predictor, list_reports, load_predictor
from core.models.metrics import ensemble_scores

__all__ = [
    "ENSEMBLE",
    "FLAGSHIP",
    "INCONCLUSIVE_BAND",
    "SCANNER",
    "VIEWS",
    "Detector",
    "inconclusive_band",
    "load_detector",
    "prepare",
    "scan_models",
    "tta_helps",
    "verdict",
]

INCONCLUSIVE_BAND = 0.1  # |P(FAKE) - threshold| below this is "inconclusive"
ENSEMBLE = "ensemble"
ENSEMBLE_SIZE = 3  # the default ensemble: the best models by test accuracy
SCANNER = "scanner"  # the default model of folder scans (fast, distilled from the flagship)
FLAGSHIP = "flagship"  # the most accurate model: Check an image uses its TTA when it helps
VIEWS = {"resize": "whole image resized", "crop": "centre square crop, resized"}


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
    tta : tuple of str
        Models scored with test-time augmentation (their report's ``tta`` views, calibration
        and threshold); the others give their plain score.
    """

    predictors: dict[str, Predictor]
    thresholds: dict[str, float]
    ensemble: list[str]
    size: int
    families: dict[str, str] = field(default_factory=dict)
    gaussians: dict[str, ood.Gaussian] = field(default_factory=dict)
    tta: tuple[str, ...] = ()

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
            if model in self.tta:
                scores[model] = p.predict(images, tta=True)
            elif model != name:
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
                  load: Callable[[str], Predictor] | None = None,
                  tta: list[str] | None = None) -> Detector:
    """Load the evaluated models (all of them, or ``names``) for one input size.

    The ensemble defaults to the ``ENSEMBLE_SIZE`` chosen models with the best test accuracy.
    ``load`` maps a model name to its Predictor (default ``load_predictor`` from
    ``models_dir``). The models in ``tta`` are scored with their test-time augmentation and
    decided at its threshold. Raises ValueError for unknown names, models of different input
    sizes, or a ``tta`` model that is not loaded or has no ``tta`` section in its report.
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
    tta = list(dict.fromkeys(tta or []))
    if set(tta) - set(chosen):
        raise ValueError(f"test-time augmentation of models {sorted(set(tta) - set(chosen))} "
                         "that are not loaded")
    missing = [n for n in tta if not by_name[n].get("tta")]
    if missing:
        raise ValueError(f"models {missing} have no test-time augmentation in their report "
                         "(python -m core evaluate --tta)")
    gaussians = ood.load_gaussians(models_dir)
    return Detector(
        predictors={r["name"]: load(r["name"]) for r in reports},
        thresholds={r["name"]: float((r["tta"] if r["name"] in tta else r)["threshold"])
                    for r in reports},
        ensemble=list(ensemble),
        size=sizes.pop(),
        families={r["name"]: r.get("family", "") for r in reports},
        gaussians={r["name"]: gaussians[r["name"]] for r in reports
                   if gaussians.get(r["name"]) and gaussians[r["name"]].sha256
                   in ("", r.get("sha256", ""))},
        tta=tuple(tta),
    )


def tta_helps(report: dict) -> bool:
    """Whether a model's report says its test-time augmentation raised its validation
    accuracy (the chosen views beat the image alone)."""
    return bool((report.get("tta") or {}).get("raises_validation_accuracy"))


def scan_models(models_dir: str | os.PathLike = MODELS_DIR) -> list[str] | None:
    """The models a folder scan uses unless told otherwise: the scanner when it is evaluated,
    else every evaluated model (None)."""
    evaluated = {r["name"] for r in list_reports(models_dir) if "metrics" in r}
    return [SCANNER] if SCANNER in evaluated else None
