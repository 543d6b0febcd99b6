"""Test-time augmentation chosen on validation images (``python -m core evaluate --tta``).

For each candidate of ``core.models.tta.candidates`` (the changes the model was trained with)
the raw P(FAKE) averaged over its views is calibrated and thresholded on the model's validation
images exactly as the plain score is (``core.models.evaluate.fit_on_validation``); the
candidate with the best validation accuracy at its threshold is chosen (ties: fewer views).
Test and leak-free test figures are measured for every candidate and reported, never used to
choose. The result is the ``tta`` section of the model's report; the rest of the report is left
as it is. Each view's raw scores are kept in ``data/cache/tta/`` (keyed on the model file and the
dataset), so a re-run only scores views it has not seen.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.data.dataset import CACHE_DIR, Dataset
from core.data.files import save_array_atomic
from core.data.quality import leakfree_test_mask
from core.models.artifacts import MODELS_DIR, load_predictor, read_report, write_report
from core.models.calibration import apply_calibration
from core.models.evaluate import fit_on_validation, hardware, score_test_sets, validation_rows
from core.models.tta import IDENTITY, View, apply_view, candidates, describe
from core.progress import ProgressFn, silent

__all__ = ["SPEED_SAMPLE", "choose", "evaluate_tta", "tta_candidates", "view_scores"]

SPEED_SAMPLE = 2048


def tta_candidates(report: dict) -> dict[str, tuple[View, ...]]:
    """The TTA candidates of a model's report (by its training augmentations); only ``none``
    for a classical model or a CNN trained without ``flip`` or ``crop``."""
    if report.get("family") == "classical":
        return {"none": (IDENTITY,)}
    return candidates((report.get("training") or {}).get("augment") or [])


def choose(validation_accuracy: dict[str, float], n_views: dict[str, int]) -> str:
    """The candidate with the best validation accuracy; among equals, the one with the fewest
    views (``none`` first)."""
    return max(validation_accuracy, key=lambda c: (validation_accuracy[c], -n_views[c]))


def evaluate_tta(name: str, dataset: Dataset, *, models_dir: str | os.PathLike = MODELS_DIR,
                 progress: ProgressFn = silent,
                 cache_dir: str | os.PathLike | None = CACHE_DIR) -> dict:
    """Score every TTA candidate of model ``name`` on its validation, test and leak-free test
    images, choose one on validation, and save the report with its ``tta`` section.

    Raises ValueError for a model that is not evaluated, has no candidate besides ``none`` or
    takes another input size than ``dataset``. ``cache_dir`` keeps each view's raw scores
    (None: no cache).
    """
    report = read_report(name, models_dir)
    options = tta_candidates(report)
    if "metrics" not in report:
        raise ValueError(f"model {name!r} is not evaluated yet (python -m core evaluate "
                         f"--model {name})")
    if len(options) == 1:
        raise ValueError(f"model {name!r} was trained without flip or crop: no test-time "
                         "augmentation to choose")
    predictor = load_predictor(name, models_dir, calibrated=False)
    if dataset.size != predictor.size:
        raise ValueError(f"model {name!r} takes {predictor.size}x{predictor.size} images, the "
                         f"dataset was loaded at {dataset.size}x{dataset.size} (use --size)")
    val_rows = validation_rows(report, dataset)
    test = dataset.splits == 1
    leakfree = leakfree_test_mask(dataset.hashes, dataset.splits)[test]
    sets = {"validation": dataset.images[val_rows], "test": dataset.images[test]}
    views = list(dict.fromkeys(v for vs in options.values() for v in vs))
    raw: dict[str, dict[View, np.ndarray]] = {"validation": {}, "test": {}}
    for i, view in enumerate(views):
        for j, (part, images) in enumerate(sets.items()):
            progress((2 * i + j) / (2 * len(views)),
                     f"{name}: view {i + 1} of {len(views)}, {part}")
            # each set scored as the plain evaluation scores it, so ``none`` reproduces it
            raw[part][view] = view_scores(predictor, images, view, part=part,
                                          fingerprint=dataset.fingerprint, cache_dir=cache_dir)
    progress(1.0, f"{name}: calibrating")
    y_val, c_val = dataset.labels[val_rows], dataset.classes[val_rows]
    y_test, c_test = dataset.labels[test], dataset.classes[test]
    results: dict[str, dict[str, Any]] = {}
    for option, option_views in options.items():
        mean_val = _mean([raw["validation"][v] for v in option_views])
        mean_test = _mean([raw["test"][v] for v in option_views])
        fitted, threshold, validation = fit_on_validation(y_val, mean_val, c_val)
        metrics = score_test_sets(y_test, apply_calibration(fitted, mean_test), mean_test,
                                  c_test, leakfree, threshold)
        results[option] = {"views": option_views, "calibration": fitted,
                           "threshold": threshold, "validation": validation, "metrics": metrics}
    chosen = choose({o: r["validation"]["accuracy"] for o, r in results.items()},
                    {o: len(v) for o, v in options.items()})
    best, plain = results[chosen], results["none"]
    report["tta"] = {
        "candidate": chosen,
        "views": [list(v) for v in best["views"]],
        "description": describe(best["views"]),
        "chosen_by": "validation accuracy at the validation-chosen threshold (ties: fewer views)",
        "calibration": best["calibration"],
        "threshold": best["threshold"],
        "validation": best["validation"],
        "plain_validation_accuracy": plain["validation"]["accuracy"],
        "raises_validation_accuracy": bool(best["validation"]["accuracy"]
                                           > plain["validation"]["accuracy"]),
        "metrics": best["metrics"],
        "candidates": {o: _summary(r) for o, r in results.items()},
        "speed": _speed(predictor, sets["test"][:SPEED_SAMPLE], best["views"]),
        "evaluated_on": {"fingerprint": dataset.fingerprint, "n_validation": len(val_rows),
                         "n_test": int(test.sum()), "n_leakfree_test": int(leakfree.sum())},
    }
    write_report(report, models_dir)
    return report


def view_scores(predictor, images: np.ndarray, view: View = IDENTITY, *, part: str,
                fingerprint: str, cache_dir: str | os.PathLike | None = CACHE_DIR) -> np.ndarray:
    """The raw scores of ``images`` (the ``part`` of the dataset with ``fingerprint``: its
    ``validation`` or ``test`` images) seen through ``view``, kept in ``cache_dir/tta/``
    under the model file's digest."""
    cached = cache_dir and Path(cache_dir, "tta", f"{predictor.sha256[:16]}-{fingerprint}-"
                                f"{part}-{int(view[0])}_{view[1]}_{view[2]}.npy")
    if cached and cached.exists():
        scores = np.load(cached, allow_pickle=False)
        if scores.shape == (len(images),):
            return scores
    scores = predictor.raw(apply_view(images, view))
    if cached:
        save_array_atomic(cached, scores)
    return scores


def _mean(scores: list[np.ndarray]) -> np.ndarray:
    """The views' raw scores averaged as ``Predictor.raw`` averages them (float32)."""
    return scores[0] if len(scores) == 1 else np.stack(scores).mean(axis=0)


def _summary(result: dict) -> dict:
    test, leakfree = result["metrics"]["test"], result["metrics"]["leakfree_test"]
    return {
        "n_views": len(result["views"]),
        "description": describe(result["views"]),
        "threshold": result["threshold"],
        "validation_accuracy": result["validation"]["accuracy"],
        "validation_auroc": result["validation"]["roc_auc"],
        "test_accuracy": test["at_threshold"]["accuracy"],
        "test_auroc": test["roc_auc"],
        "test_ece": test["ece"],
        "leakfree_accuracy": leakfree["at_threshold"]["accuracy"],
        "leakfree_auroc": leakfree["roc_auc"],
    }


def _speed(predictor, sample: np.ndarray, views) -> dict:
    """Batch images/s and single-image latency with and without the chosen views, measured in
    the same run."""

    def rate(tta_views) -> float:
        start = time.perf_counter()
        predictor.raw(sample, tta_views)
        return round(len(sample) / (time.perf_counter() - start), 1)

    predictor.raw(sample[:64], views)  # warm-up
    return {
        "images_per_second": rate(views),
        "plain_images_per_second": rate((IDENTITY,)),
        "single_image_ms": round(predictor.latency_ms(sample[0], repeats=30, views=views), 3),
        "plain_single_image_ms": round(predictor.latency_ms(sample[0], repeats=30), 3),
        "hardware": hardware(),
    }
