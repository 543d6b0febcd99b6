"""The robustness battery: every model's accuracy and AUROC on the leak-free test set after
JPEG re-compression, blur, noise, down-and-up rescaling, a centre crop and Gray World.

Results for the named models (default: every evaluated model) are merged into
``models/robustness.json`` (``python -m core robustness``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

from core.data.dataset import Dataset
from core.data.perturb import blur, center_crop, gray_world, jpeg, noise, rescale
from core.data.quality import leakfree_test_mask
from core.data.sources import stratified_split
from core.detect.detector import ENSEMBLE, INCONCLUSIVE_BAND, Detector, verdict
from core.models.artifacts import MODELS_DIR, list_reports, load_predictor, read_json, write_json
from core.models.metrics import accuracy_at
from core.progress import ProgressFn, silent

__all__ = ["PERTURBATIONS", "REPORT", "Perturbation", "battery", "changed_verdicts",
           "evaluation_rows"]

REPORT = "robustness.json"


@dataclass(frozen=True)
class Perturbation:
    """One kind of degradation and the severities the battery tries."""

    label: str
    unit: str  # what a severity means, for axis titles
    severities: tuple[float, ...]
    apply: Callable[[np.ndarray, float], np.ndarray]
    worse: str  # "lower" or "higher": which way severity increases
    slider: tuple[float, float, float, float]  # interactive range: min, max, default, step


PERTURBATIONS = {
    "jpeg": Perturbation("JPEG re-compression", "quality", (95, 75, 50, 30, 10),
                         lambda x, q: jpeg(x, int(q)), "lower", (5, 100, 50, 5)),
    "blur": Perturbation("Gaussian blur", "sigma (pixels)", (0.5, 1.0, 1.5), blur, "higher",
                         (0.0, 3.0, 1.0, 0.1)),
    "noise": Perturbation("Gaussian noise", "sigma (/255)", (2, 8, 16),
                          lambda x, s: noise(x, float(s)), "higher", (0, 32, 8, 1)),
    "rescale": Perturbation("Down-and-up rescale", "via side (pixels)", (24, 16),
                            lambda x, side: rescale(x, int(side)), "lower", (4, 32, 16, 1)),
    "crop": Perturbation("Centre crop + resize", "kept fraction of each side", (0.75,),
                         center_crop, "lower", (0.3, 1.0, 0.75, 0.05)),
    "gray_world": Perturbation("Gray World white balance", "strength (1 = full)", (1,),
                               lambda x, k: _blend(x, gray_world(x), k), "higher",
                               (0.0, 1.0, 1.0, 0.1)),
}


def _blend(x: np.ndarray, y: np.ndarray, k: float) -> np.ndarray:
    """``(1 - k) x + k y`` for uint8 batches."""
    return np.clip((1 - k) * x + k * y.astype(np.float64), 0, 255).round().astype(np.uint8)


def changed_verdicts(detector: Detector, before: dict[str, np.ndarray],
                     after: dict[str, np.ndarray], *, band: float = INCONCLUSIVE_BAND,
                     index: int = 0) -> list[str]:
    """The models (and the ensemble) whose verdict on image ``index`` differs between two sets
    of ``Detector.score`` results, e.g. of an image and of a degraded copy."""
    return [name for name in [*detector.names, ENSEMBLE]
            if verdict(float(before[name][index]), detector.threshold(name), band)
            != verdict(float(after[name][index]), detector.threshold(name), band)]


def evaluation_rows(dataset: Dataset, limit: int | None = None, seed: int = 0) -> np.ndarray:
    """Rows of the leak-free test set, or a stratified (label x class) subset of ``limit``;
    raises ValueError unless both labels are present."""
    rows = np.flatnonzero(leakfree_test_mask(dataset.hashes, dataset.splits))
    if limit is not None and limit < len(rows):
        keep = stratified_split(dataset.labels[rows], dataset.classes[rows], limit / len(rows),
                                seed=seed)
        rows = rows[keep]
    if len(np.unique(dataset.labels[rows])) < 2:
        raise ValueError(f"{len(rows):,} leak-free test images are not enough: both REAL and FAKE "
                         "are needed (use a larger limit, or a dataset with test images of "
                         "both labels)")
    return rows


def _scores(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    return {"accuracy": accuracy_at(p, y, threshold),
            "auroc": float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else None}


def battery(predictors: dict, thresholds: dict[str, float], images: np.ndarray,
            labels: np.ndarray, *, progress: ProgressFn = silent) -> dict:
    """Accuracy (at each model's threshold) and AUROC of every model on clean and perturbed
    copies of ``images``: ``{model: {"clean": {...}, perturbation: {severity: {...}}}}``."""
    cases = [(None, None)] + [(k, s) for k, p in PERTURBATIONS.items() for s in p.severities]
    results: dict[str, dict] = {name: {} for name in predictors}
    for i, (kind, severity) in enumerate(cases):
        label = "clean" if kind is None else f"{PERTURBATIONS[kind].label} {severity}"
        progress(i / len(cases), f"{label}: perturbing {len(images):,} images")
        if kind is None:
            x = images
        else:
            assert severity is not None  # every perturbation comes with a severity
            x = PERTURBATIONS[kind].apply(images, severity)
        for name, predictor in predictors.items():
            progress(i / len(cases), f"{label}: {name}")
            metrics = _scores(labels, predictor.predict(x), thresholds[name])
            if kind is None:
                results[name]["clean"] = metrics
            else:
                results[name].setdefault(kind, {})[str(severity)] = metrics
    progress(1.0, "Battery done")
    return results


def run(names: list[str] | None, dataset: Dataset, *, limit: int | None = None,
        models_dir: str | os.PathLike = MODELS_DIR, progress: ProgressFn = silent) -> dict:
    """Run the battery for ``names`` (default: every evaluated model) and merge the results
    into ``models/robustness.json``; returns the whole report."""
    reports = {r["name"]: r for r in list_reports(models_dir) if "metrics" in r}
    names = names or list(reports)
    unknown = [n for n in names if n not in reports]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; available: {sorted(reports)}")
    rows = evaluation_rows(dataset, limit)
    report = read_json(REPORT, models_dir) or {}
    if report.get("rows") not in (None, len(rows)) or \
            report.get("fingerprint") not in (None, dataset.fingerprint):
        report = {}  # another evaluation set: start over
    results = battery({n: load_predictor(n, models_dir) for n in names},
                      {n: float(reports[n]["threshold"]) for n in names},
                      dataset.images[rows], dataset.labels[rows], progress=progress)
    report.update({
        "fingerprint": dataset.fingerprint, "rows": int(len(rows)),
        "set": "leak-free test" + (f", stratified subset of {len(rows):,}" if limit else ""),
        "perturbations": {k: {"label": p.label, "unit": p.unit, "severities": list(p.severities),
                              "worse": p.worse} for k, p in PERTURBATIONS.items()},
    })
    report.setdefault("models", {}).update(results)
    write_json(report, REPORT, models_dir)
    return report

