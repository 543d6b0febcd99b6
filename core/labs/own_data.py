"""Evaluate the shipped models on your own images: any folder, zip or upload with REAL/ and FAKE/
sub-folders (at any depth; any sizes and formats), scored as a scan scores them, with every
model's accuracy, AUROC, ROC curve, off-distribution flag rate and most confident mistakes beside
its CIFAKE test figures (``python -m core evaluate --on PATH`` and the Batch scan page)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from core.data.sources import LABELS, label_of, scan_source
from core.detect.detector import ENSEMBLE, Detector
from core.detect.scanning import iter_uploads, read_entries, scan, source_entries
from core.errors import DataError
from core.models.artifacts import MODELS_DIR, list_reports
from core.models.metrics import score_report
from core.progress import ProgressFn, silent

__all__ = ["evaluate_files", "evaluate_on", "evaluate_rows", "evaluate_uploads", "results_frame"]


def evaluate_on(path: str | os.PathLike, detector: Detector, *, mistakes: int = 5,
                models_dir: str | os.PathLike = MODELS_DIR, cluster: str | None = None,
                progress: ProgressFn = silent) -> dict:
    """``evaluate_rows`` on the labelled images of a folder or zip at ``path``, scanned in this
    process or, with ``cluster`` (``local``, ``local:N`` or a scheduler's address), on a cluster
    (``core.detect.cluster_scan``); raises DataError when it holds no REAL/ and FAKE/ images."""
    listing = scan_source(path)
    entries = source_entries(listing.source, listing.members)
    if cluster:
        from core.detect.cluster_scan import cluster_scan

        rows = cluster_scan(entries, detector, cluster, models_dir=models_dir,
                            check_stability=False, progress=progress)
    else:
        rows = scan(read_entries(entries), detector, check_stability=False, progress=progress)
    return evaluate_rows(rows, listing.labels, detector, source=str(listing.source),
                         mistakes=mistakes, models_dir=models_dir)


def evaluate_uploads(uploads: list[tuple[str, bytes]], detector: Detector, *, mistakes: int = 5,
                     models_dir: str | os.PathLike = MODELS_DIR,
                     progress: ProgressFn = silent) -> dict:
    """``evaluate_files`` on uploaded files and zips: the images below REAL/ or FAKE/ folders;
    raises DataError unless both labels are present."""
    files = [f for f in iter_uploads(uploads) if label_of(f[0]) is not None]
    labels = np.array([label_of(f[0]) for f in files], dtype=np.int8)
    missing = [LABELS[i] for i in (0, 1) if not (labels == i).any()]
    if missing:
        raise DataError(f"No images below a {missing[0]}/ folder in the upload: upload a zip "
                        "with REAL/ and FAKE/ folders.")
    return evaluate_files(files, labels, detector, source="upload", mistakes=mistakes,
                          models_dir=models_dir, progress=progress)


def evaluate_files(files: list[tuple[str, bytes | None, str]], labels: np.ndarray,
                   detector: Detector, *, source: str = "", mistakes: int = 5,
                   models_dir: str | os.PathLike = MODELS_DIR,
                   progress: ProgressFn = silent) -> dict:
    """``evaluate_rows`` on the scan of ``files`` (as ``scanning.iter_image_files`` yields them)
    with ``labels`` (0 REAL, 1 FAKE)."""
    rows = scan(files, detector, check_stability=False, progress=progress)
    return evaluate_rows(rows, labels, detector, source=source, mistakes=mistakes,
                         models_dir=models_dir)


def evaluate_rows(rows: list[dict], labels: np.ndarray, detector: Detector, *, source: str = "",
                  mistakes: int = 5, models_dir: str | os.PathLike = MODELS_DIR) -> dict:
    """Every model's (and the ensemble's) accuracy at its threshold, AUROC and ROC curve (None
    unless both labels were readable), off-distribution flag rate and accuracy on the
    unflagged images, and its ``mistakes`` most confident mistakes, from the scan ``rows`` of
    files with ``labels`` (0 REAL, 1 FAKE); with the model's CIFAKE test accuracy and AUROC
    from its report in ``models_dir`` (None without)."""
    ok = np.array([row["status"] == "ok" for row in rows])
    labels = np.asarray(labels)[ok].astype(int)
    flagged = np.array([bool(row["ood_reason"]) for row in rows])[ok]
    paths = [row["path"] for row, good in zip(rows, ok) if good]
    report = {"path": source, "images": len(rows), "scored": int(ok.sum()),
              "errors": [{"path": r["path"], "message": r["message"]}
                         for r in rows if r["status"] != "ok"],
              "counts": {LABELS[i]: int((labels == i).sum()) for i in (0, 1)},
              "flag_rate": float(flagged.mean()) if ok.any() else None}
    models: dict[str, dict] = {}
    report["models"] = models
    reports = {r["name"]: r for r in list_reports(models_dir)}
    both = len(set(labels)) == 2
    for name in [*detector.names, ENSEMBLE]:
        p = np.array([row[f"p_fake_{name}"] for row, good in zip(rows, ok) if good], float)
        threshold = detector.threshold(name)
        right = (p >= threshold) == (labels == 1)
        wrong = np.flatnonzero(~right)
        worst = wrong[np.argsort(-np.abs(p[wrong] - threshold))][:mistakes]
        cifake = reports.get(name, {}).get("metrics", {}).get("test", {})
        scores = score_report(labels, p, np.zeros(len(p), int), threshold=threshold) if both else {}
        models[name] = {
            "accuracy": float(right.mean()) if len(right) else None,
            "auroc": scores.get("roc_auc"),
            "roc_curve": scores.get("roc_curve"),
            "accuracy_unflagged": float(right[~flagged].mean()) if (~flagged).any() else None,
            "cifake_test_accuracy": cifake.get("at_threshold", {}).get("accuracy"),
            "cifake_test_auroc": cifake.get("roc_auc"),
            "mistakes": [{"path": paths[i], "label": LABELS[labels[i]],
                          "p_fake": round(float(p[i]), 4)} for i in worst],
        }
    return report


def results_frame(report: dict) -> pd.DataFrame:
    """One row per model of an ``evaluate_files`` report: accuracy and AUROC on the images, on
    those not flagged off-distribution, and on CIFAKE's test set."""
    return pd.DataFrame([{"model": name, "accuracy": m["accuracy"], "AUROC": m["auroc"],
                          "accuracy (not flagged)": m["accuracy_unflagged"],
                          "CIFAKE test accuracy": m["cifake_test_accuracy"],
                          "CIFAKE test AUROC": m["cifake_test_auroc"]}
                         for name, m in report["models"].items()])
