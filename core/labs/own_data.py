"""Evaluate the shipped models on your own images: any folder or zip with REAL/ and FAKE/
sub-folders (at any depth; any sizes and formats), scored as a scan scores them, with every
model's accuracy, AUROC, off-distribution flag rate and most confident mistakes beside its
CIFAKE test figures (``python -m core evaluate --on PATH``)."""

from __future__ import annotations

import os

import numpy as np
from sklearn.metrics import roc_auc_score

from core.data.sources import LABELS, scan_source
from core.detect.predict import ENSEMBLE, Detector, scan
from core.models.artifacts import MODELS_DIR, list_reports
from core.progress import ProgressFn, silent

__all__ = ["evaluate_on"]


def evaluate_on(path: str | os.PathLike, detector: Detector, *, mistakes: int = 5,
                models_dir: str | os.PathLike = MODELS_DIR, progress: ProgressFn = silent) -> dict:
    """Every model's (and the ensemble's) accuracy at its threshold, AUROC (None unless both
    labels were readable), off-distribution flag rate and accuracy on the unflagged images, and
    its ``mistakes`` most confident mistakes, on the labelled images at ``path``; with the
    model's CIFAKE test accuracy and AUROC from its report in ``models_dir`` (None without). Raises DataError when ``path`` holds
    no REAL/ and FAKE/ images."""
    listing = scan_source(path)
    files = [(member, None, str(data)) if isinstance(data, OSError) else (member, data, "")
             for member, data in listing.read()]
    rows = scan(files, detector, check_stability=False, progress=progress)
    ok = np.array([row["status"] == "ok" for row in rows])
    labels = listing.labels[ok].astype(int)
    flagged = np.array([bool(row["ood_reason"]) for row in rows])[ok]
    paths = [row["path"] for row, good in zip(rows, ok) if good]
    report = {"path": str(listing.source), "images": len(rows), "scored": int(ok.sum()),
              "errors": [{"path": r["path"], "message": r["message"]}
                         for r in rows if r["status"] != "ok"],
              "counts": {LABELS[i]: int((labels == i).sum()) for i in (0, 1)},
              "flag_rate": float(flagged.mean()) if ok.any() else None, "models": {}}
    reports = {r["name"]: r for r in list_reports(models_dir)}
    for name in [*detector.names, ENSEMBLE]:
        p = np.array([row[f"p_fake_{name}"] for row, good in zip(rows, ok) if good], float)
        threshold = detector.threshold(name)
        right = (p >= threshold) == (labels == 1)
        wrong = np.flatnonzero(~right)
        worst = wrong[np.argsort(-np.abs(p[wrong] - threshold))][:mistakes]
        cifake = reports.get(name, {}).get("metrics", {}).get("test", {})
        report["models"][name] = {
            "accuracy": float(right.mean()) if len(right) else None,
            "auroc": float(roc_auc_score(labels, p)) if len(set(labels)) == 2 else None,
            "accuracy_unflagged": float(right[~flagged].mean()) if (~flagged).any() else None,
            "cifake_test_accuracy": cifake.get("at_threshold", {}).get("accuracy"),
            "cifake_test_auroc": cifake.get("roc_auc"),
            "mistakes": [{"path": paths[i], "label": LABELS[labels[i]],
                          "p_fake": round(float(p[i]), 4)} for i in worst],
        }
    return report
