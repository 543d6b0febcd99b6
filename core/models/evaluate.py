"""The evaluation harness: every model scored the same way on the test and leak-free test sets
(``python -m core evaluate``): the ``metrics`` and ``speed`` of each model's report and
``models/leaderboard.json``."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from core.data.dataset import Dataset, train_val_rows
from core.data.files import write_atomic
from core.data.quality import leakfree_test_mask
from core.models.artifacts import (
    MODELS_DIR,
    list_reports,
    load_predictor,
    read_json,
    read_report,
    write_report,
)
from core.models.calibration import apply_calibration, fit_calibration
from core.models.metrics import calibration, choose_threshold, score_report, threshold_metrics

__all__ = [
    "LEADERBOARD_KEYS",
    "evaluate_model",
    "fit_on_validation",
    "hardware",
    "leaderboard_rows",
    "total_training_seconds",
    "read_test_scores",
    "score_test_sets",
    "validation_rows",
    "write_leaderboard",
]

LEADERBOARD_KEYS = ("name", "family", "params", "file_mb", "test_accuracy", "test_auroc",
                    "leakfree_accuracy", "threshold", "train_seconds", "images_per_second")
SPEED_SAMPLE = 4096


def evaluate_model(name: str, dataset: Dataset, *,
                   models_dir: str | os.PathLike = MODELS_DIR) -> dict:
    """Fit model ``name``'s calibration and decision threshold on its validation images, score
    it on the test and leak-free test sets at 0.5 and at that threshold, time it, and save the
    updated report."""
    report = read_report(name, models_dir)
    predictor = load_predictor(name, models_dir, calibrated=False)
    if dataset.size != predictor.size:
        raise ValueError(f"model {name!r} takes {predictor.size}x{predictor.size} images, the "
                         f"dataset was loaded at {dataset.size}x{dataset.size} (use --size)")
    _calibrate(report, predictor, dataset)
    test = dataset.splits == 1
    leakfree = leakfree_test_mask(dataset.hashes, dataset.splits)
    test_images = dataset.images[test]
    raw = predictor.predict(test_images)
    p_fake = apply_calibration(report["calibration"], raw)
    report["metrics"] = score_test_sets(dataset.labels[test], p_fake, raw, dataset.classes[test],
                                     leakfree[test], float(report["threshold"]))
    sample = test_images[:SPEED_SAMPLE]
    start = time.perf_counter()
    predictor.predict(sample)
    batched = len(sample) / (time.perf_counter() - start)
    report["speed"] = {
        "images_per_second": round(batched, 1),
        "single_image_ms": round(predictor.latency_ms(sample[0]), 3),
        "hardware": hardware(),
    }
    report["evaluated_on"] = {"fingerprint": dataset.fingerprint, "n_test": int(test.sum()),
                              "n_leakfree_test": int(leakfree.sum())}
    write_report(report, models_dir)
    _write_test_scores(name, p_fake, dataset, models_dir)
    write_leaderboard(models_dir)
    return report


def _calibrate(report: dict, predictor, dataset: Dataset) -> None:
    """Fit the report's calibration on the model's validation images (the seeded split it was
    trained with), then choose its threshold on the calibrated validation scores."""
    val_rows = validation_rows(report, dataset)
    raw = predictor.predict(dataset.images[val_rows])
    report["calibration"], report["threshold"], report["validation"] = fit_on_validation(
        dataset.labels[val_rows], raw, dataset.classes[val_rows])


def validation_rows(report: dict, dataset: Dataset) -> np.ndarray:
    """Row indices of a model's validation images: the seeded split its report records."""
    split = report.get("split", {})
    return train_val_rows(dataset, val_fraction=split.get("val_fraction", 0.1),
                          seed=split.get("seed", 0),
                          limit=(report.get("training") or {}).get("limit"))[1]


def fit_on_validation(y_val: np.ndarray, raw: np.ndarray, classes: np.ndarray
                      ) -> tuple[dict, float, dict]:
    """The calibration fitted on validation labels and raw scores, the threshold chosen on the
    calibrated scores, and the validation ``accuracy`` (at that threshold) and ``roc_auc``."""
    fitted = fit_calibration(y_val, raw)
    p_val = apply_calibration(fitted, raw)
    fitted = {**fitted, "n_validation": int(len(y_val)),
              "validation_ece_before": calibration(y_val, raw)["ece"],
              "validation_ece_after": calibration(y_val, p_val)["ece"]}
    threshold = choose_threshold(y_val, p_val)
    validation = {
        "accuracy": threshold_metrics(y_val, p_val, threshold)["accuracy"],
        "roc_auc": score_report(y_val, p_val, classes, threshold=threshold)["roc_auc"],
    }
    return fitted, threshold, validation


def score_test_sets(y: np.ndarray, p_fake: np.ndarray, raw: np.ndarray, classes: np.ndarray,
                 leakfree: np.ndarray, threshold: float) -> dict:
    """``score_report`` of calibrated test scores at ``threshold`` (``test``, with the
    calibration of the ``raw`` scores as ``uncalibrated``) and of the images flagged in
    ``leakfree`` (``leakfree_test``)."""
    return {
        "test": {**score_report(y, p_fake, classes, threshold=threshold),
                 "uncalibrated": calibration(y, raw)},
        "leakfree_test": score_report(y[leakfree], p_fake[leakfree], classes[leakfree],
                                      threshold=threshold),
    }


def read_test_scores(models_dir: str | os.PathLike = MODELS_DIR) -> dict | None:
    """Every evaluated model's P(FAKE) on the test set (``scores``: name -> list), with the test
    images' ``paths``, ``labels``, ``classes`` and ``leakfree`` flags, in test-row order; None
    before any evaluation."""
    return read_json("test_scores.json", models_dir)


def _write_test_scores(name: str, p_fake: np.ndarray, dataset: Dataset, models_dir) -> None:
    """Add one model's test scores to ``models/test_scores.json`` (numbers and file names only),
    so agreement, ensembles and drill-downs work without re-running every model."""
    test = dataset.splits == 1
    current = read_test_scores(models_dir)
    if current is None or current.get("fingerprint") != dataset.fingerprint:
        current = {
            "fingerprint": dataset.fingerprint,
            "paths": dataset.paths[test].tolist(),
            "labels": dataset.labels[test].tolist(),
            "classes": dataset.classes[test].tolist(),
            "leakfree": leakfree_test_mask(dataset.hashes, dataset.splits)[test]
            .astype(int).tolist(),
            "scores": {},
        }
    current["scores"][name] = np.round(p_fake.astype(np.float64), 4).tolist()
    write_atomic(Path(models_dir) / "test_scores.json", json.dumps(current, separators=(",", ":")))


def total_training_seconds(training: dict) -> float | None:
    """Training time of a run plus that of the runs it continued from (``--init``)."""
    if training.get("seconds") is None:
        return None
    initial = (training.get("initial") or {}).get("training") or {}
    return training["seconds"] + (total_training_seconds(initial) or 0.0)


def leaderboard_rows(reports: list[dict]) -> list[dict]:
    """One summary row per evaluated report, best test accuracy first (accuracies at the
    validation-chosen threshold, as fractions)."""
    rows = []
    for report in reports:
        metrics = report.get("metrics")
        if not metrics:
            continue
        test, leakfree = metrics["test"], metrics["leakfree_test"]
        rows.append({
            "name": report["name"],
            "family": report["family"],
            "params": report.get("params"),
            "file_mb": report.get("file_mb"),
            "test_accuracy": test["at_threshold"]["accuracy"],
            "test_accuracy_at_0.5": test["at_0.5"]["accuracy"],
            "test_auroc": test["roc_auc"],
            "test_ece": test["ece"],
            "leakfree_accuracy": leakfree["at_threshold"]["accuracy"],
            "leakfree_auroc": leakfree["roc_auc"],
            "threshold": report["threshold"],
            "train_seconds": total_training_seconds(report.get("training") or {}),
            "images_per_second": report.get("speed", {}).get("images_per_second"),
            "single_image_ms": report.get("speed", {}).get("single_image_ms"),
            "reference_accuracy": (report.get("reference") or {}).get("test_accuracy"),
        })
    return sorted(rows, key=lambda r: -r["test_accuracy"])


def write_leaderboard(models_dir: str | os.PathLike = MODELS_DIR) -> Path:
    """``models/leaderboard.json``: ``leaderboard_rows`` of every model in ``models_dir``."""
    rows = leaderboard_rows(list_reports(models_dir))
    return write_atomic(Path(models_dir) / "leaderboard.json", json.dumps(rows, indent=1))


def hardware() -> str:
    """This machine's processor and core count, and the accelerator Keras uses if any."""
    import platform

    cpu = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    return ", ".join([cpu, *_accelerators()])


def _accelerators() -> list[str]:
    """Names of the GPUs the Keras backend runs on (none when Keras is not loaded)."""
    if "keras" not in sys.modules:
        return []
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return [d.device_kind for d in jax.devices() if d.platform == "gpu"]
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return [d.name for d in tf.config.list_physical_devices("GPU")]
    return []
