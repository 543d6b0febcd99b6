"""How far the stability check's verdicts hold: per model and the default ensemble, the share of
leak-free test images marked unstable, which check flips how many verdicts, and the accuracy of
stable and unstable verdicts (``models/stability.json``, ``python -m core stability``)."""

from __future__ import annotations

import os

import numpy as np

from core.data.dataset import Dataset
from core.data.perturb import STABILITY_CHECKS
from core.detect.detector import ENSEMBLE, load_detector
from core.detect.stability import stability
from core.labs.robustness import evaluation_rows
from core.models.artifacts import MODELS_DIR, write_json
from core.progress import ProgressFn, silent

__all__ = ["STABILITY_REPORT", "measure_stability"]

STABILITY_REPORT = "stability.json"


def _rate(mask: np.ndarray) -> float:
    return round(float(np.mean(mask)), 4)


def measure_stability(dataset: Dataset, names: list[str] | None = None, *, limit: int | None = 2000,
                      models_dir: str | os.PathLike = MODELS_DIR,
                      progress: ProgressFn = silent) -> dict:
    """The stability check on a stratified ``limit`` of the leak-free test images (all with
    None), per model and the default ensemble: the share marked unstable, which check flips how
    many verdicts, and the accuracy of stable and unstable verdicts; written to
    ``models/stability.json``."""
    rows = evaluation_rows(dataset, limit)
    detector = load_detector(names, models_dir=models_dir)
    labels = dataset.labels[rows]
    result_parts = []
    for start in range(0, len(rows), 500):
        progress(start / len(rows), f"Stability of {start:,} / {len(rows):,} images")
        result_parts.append(stability(detector, dataset.images[rows[start:start + 500]]))
    models: dict[str, dict] = {}
    report = {"images": int(len(rows)), "limit": limit, "checks": list(STABILITY_CHECKS),
              "ensemble": detector.ensemble, "models": models}
    for name in [*detector.names, ENSEMBLE]:
        p = np.concatenate([r.original[name] for r in result_parts])
        unstable = np.concatenate([r.flips[name] for r in result_parts])
        right = (p >= detector.threshold(name)) == (labels == 1)
        models[name] = {
            "unstable_share": _rate(unstable),
            "accuracy": _rate(right),
            "accuracy_stable": _rate(right[~unstable]) if (~unstable).any() else None,
            "accuracy_unstable": _rate(right[unstable]) if unstable.any() else None,
            "stable_images": int((~unstable).sum()), "unstable_images": int(unstable.sum()),
            "flipped_by": {check: _rate(np.concatenate([r.flipped[check][name]
                                                        for r in result_parts]))
                           for check in STABILITY_CHECKS},
        }
    progress(1.0, f"Writing models/{STABILITY_REPORT}")
    write_json(report, STABILITY_REPORT, models_dir)
    return report
