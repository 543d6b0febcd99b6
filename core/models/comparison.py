"""Comparing trained models in tables (from the committed reports and test scores): the
leaderboard, the published references, how often models agree, an averaging ensemble's metrics
and the test images of a confusion cell."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.models.evaluate import leaderboard_rows
from core.models.metrics import ensemble_scores, score_report
from core.models.references import REFERENCES

__all__ = ["agreement_matrix", "ensemble_report", "leaderboard_frame", "limits_frame", "mistakes",
           "references_frame", "weighted_ensemble_frames"]


def leaderboard_frame(reports: list[dict]) -> pd.DataFrame:
    """The leaderboard for display: one row per evaluated model, best test accuracy first,
    accuracies in %."""
    rows = leaderboard_rows(reports)
    percent = lambda v: None if v is None else 100 * v  # noqa: E731
    return pd.DataFrame([{
        "model": r["name"],
        "family": r["family"],
        "test acc %": percent(r["test_accuracy"]),
        "leak-free acc %": percent(r["leakfree_accuracy"]),
        "test acc @0.5 %": percent(r["test_accuracy_at_0.5"]),
        "AUROC": r["test_auroc"],
        "ECE": r["test_ece"],
        "threshold": r["threshold"],
        "reference acc %": percent(r["reference_accuracy"]),
        "params": r["params"],
        "file MB": r["file_mb"],
        "train s": r["train_seconds"],
        "images/s": r["images_per_second"],
        "1 image ms": r["single_image_ms"],
    } for r in rows])


def limits_frame(ood_report: dict | None, stability_report: dict | None) -> pd.DataFrame:
    """Per model (and the ensemble), from ``models/ood.json`` and ``models/stability.json``: the
    share of leak-free test images flagged off-distribution by the model's feature distance
    (None for models without one), the share whose verdict holds under the stability check and
    the accuracy of stable and unstable verdicts, in %."""
    flagged = {name: entry["flag_rates"]["leakfree_test"]
               for name, entry in (ood_report or {}).get("models", {}).items()}
    stable = (stability_report or {}).get("models", {})
    percent = lambda v: None if v is None else 100 * v  # noqa: E731
    return pd.DataFrame([{
        "model": name,
        "flagged off-distribution %": percent(flagged.get(name)),
        "stable %": percent(1 - stable[name]["unstable_share"]) if name in stable else None,
        "acc. of stable %": percent(stable.get(name, {}).get("accuracy_stable")),
        "acc. of unstable %": percent(stable.get(name, {}).get("accuracy_unstable")),
    } for name in [*stable, *(n for n in flagged if n not in stable)]])


def references_frame() -> pd.DataFrame:
    """The published CIFAKE accuracies the project is measured against."""
    return pd.DataFrame([{"reference": source, "test acc %": 100 * acc}
                         for acc, source in REFERENCES.values()]).sort_values(
        "test acc %", ascending=False, ignore_index=True)


def agreement_matrix(scores: dict[str, np.ndarray], thresholds: dict[str, float]) -> pd.DataFrame:
    """Share of test images on which each pair of models gives the same verdict."""
    names = list(scores)
    verdicts = {n: np.asarray(scores[n]) >= thresholds[n] for n in names}
    return pd.DataFrame([[float((verdicts[a] == verdicts[b]).mean()) for b in names]
                         for a in names], index=names, columns=names)


def ensemble_report(scores: dict, names: list[str], labels, classes, leakfree) -> dict:
    """Metrics of the averaging ensemble at threshold 0.5, on test and leak-free test."""
    p = ensemble_scores(scores, names)
    labels, classes, leakfree = map(np.asarray, (labels, classes, leakfree))
    keep = leakfree.astype(bool)
    return {
        "test": score_report(labels, p, classes, threshold=0.5),
        "leakfree_test": score_report(labels[keep], p[keep], classes[keep], threshold=0.5),
    }


def weighted_ensemble_frames(result: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """From ``models/ensemble.json``: each model's weight (largest first), and the weighted
    ensemble, the best single model and the equal-weight ensemble side by side (accuracies in
    %)."""
    weights = pd.DataFrame(sorted(result["weights"].items(), key=lambda kv: -kv[1]),
                           columns=["model", "weight"])
    rows = [("weighted ensemble", result["weighted"]),
            (f"best single model ({result['best_single']['name']})", result["best_single"]),
            (f"equal weights ({', '.join(result['equal']['models'])})", result["equal"])]
    figures = pd.DataFrame([{
        "": label,
        "threshold": entry["threshold"],
        "validation acc %": 100 * entry["validation_accuracy"],
        "test acc %": 100 * entry["test_accuracy"],
        "test images right": entry["test_correct"],
        "leak-free acc %": 100 * entry["leakfree_accuracy"],
        "AUROC": entry["test_auroc"],
    } for label, entry in rows])
    return weights, figures


def mistakes(scores: np.ndarray, labels: np.ndarray, threshold: float, *, cell=None,
             limit: int = 48) -> np.ndarray:
    """Test positions in a confusion cell ``(true, predicted)`` (0 REAL / 1 FAKE), most
    confident first; ``cell=None`` gives the most confident mistakes of either kind."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    predicted = (scores >= threshold).astype(int)
    if cell is None:
        mask = predicted != labels
    else:
        mask = (labels == cell[0]) & (predicted == cell[1])
    idx = np.flatnonzero(mask)
    confidence = np.abs(scores[idx] - threshold)
    return idx[np.argsort(-confidence, kind="stable")][:limit]
