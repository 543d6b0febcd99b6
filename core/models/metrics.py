"""Binary-classification metrics for P(FAKE) scores: threshold metrics, ranking metrics,
calibration, curves and the validation-chosen threshold."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from core.data.sources import CLASS_NAMES

__all__ = [
    "accuracy_at",
    "choose_threshold",
    "ensemble_scores",
    "frechet_distance",
    "threshold_metrics",
    "calibration",
    "score_report",
]

_EPS = 1e-7
N_CURVE_POINTS = 200
N_CALIBRATION_BINS = 15


def choose_threshold(y_true: np.ndarray, p_fake: np.ndarray) -> float:
    """The threshold that maximises accuracy on (validation) data; among equally good ones,
    the one closest to 0.5. An image is called FAKE when P(FAKE) >= threshold.

    Candidates are 0.5 and the midpoints between consecutive distinct scores.
    """
    y_true = np.asarray(y_true).astype(bool)
    p = np.asarray(p_fake, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    p_sorted, y_sorted = p[order], y_true[order]
    distinct = np.flatnonzero(np.diff(p_sorted) > 0)
    candidates = np.concatenate([[0.5], (p_sorted[distinct] + p_sorted[distinct + 1]) / 2,
                                 [p_sorted[0] - _EPS, p_sorted[-1] + _EPS]])
    # correct(t) = (REAL below t) + (FAKE at or above t), counted with cumulative sums
    below = np.searchsorted(p_sorted, candidates, side="left")
    real_below = np.concatenate([[0], np.cumsum(~y_sorted)])[below]
    fake_above = y_sorted.sum() - np.concatenate([[0], np.cumsum(y_sorted)])[below]
    correct = real_below + fake_above
    best = np.flatnonzero(correct == correct.max())
    return float(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]])


def accuracy_at(p_fake: np.ndarray, y_true: np.ndarray, threshold: float) -> float:
    """Share of images called correctly when P(FAKE) >= ``threshold`` means FAKE."""
    return float(np.mean((np.asarray(p_fake) >= threshold) == np.asarray(y_true).astype(bool)))


def ensemble_scores(scores: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    """Averaging ensemble: the mean P(FAKE) of the named models (decided at 0.5)."""
    return np.mean([np.asarray(scores[n], dtype=np.float64) for n in names], axis=0)


def threshold_metrics(y_true: np.ndarray, p_fake: np.ndarray, threshold: float) -> dict:
    """Accuracy, precision, recall, F1, specificity, FPR and the confusion matrix
    ``[[TN, FP], [FN, TP]]`` (rows: true REAL, FAKE; columns: predicted REAL, FAKE)."""
    y = np.asarray(y_true).astype(bool)
    pred = np.asarray(p_fake) >= threshold
    tp, fp = int((pred & y).sum()), int((pred & ~y).sum())
    fn, tn = int((~pred & y).sum()), int((~pred & ~y).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "threshold": float(threshold),
        "accuracy": (tp + tn) / max(len(y), 1),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "specificity": tn / (tn + fp) if tn + fp else 0.0,
        "fpr": fp / (fp + tn) if fp + tn else 0.0,
        "confusion": [[tn, fp], [fn, tp]],
    }


def calibration(y_true: np.ndarray, p_fake: np.ndarray, n_bins: int = N_CALIBRATION_BINS) -> dict:
    """Expected calibration error over equal-width bins of P(FAKE), with the reliability curve
    (per non-empty bin: mean predicted P(FAKE), observed FAKE share, count)."""
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(p_fake, dtype=np.float64)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    mean_p: np.ndarray = np.bincount(bins, weights=p, minlength=n_bins)
    observed: np.ndarray = np.bincount(bins, weights=y, minlength=n_bins)
    keep = count > 0
    mean_p, observed = mean_p[keep] / count[keep], observed[keep] / count[keep]
    ece = float(np.sum(count[keep] * np.abs(mean_p - observed)) / max(len(p), 1))
    return {
        "ece": ece,
        "reliability": {"mean_predicted": mean_p.tolist(), "observed_fake": observed.tolist(),
                        "count": count[keep].tolist()},
    }


def score_report(y_true: np.ndarray, p_fake: np.ndarray, classes: np.ndarray,
                 *, threshold: float) -> dict:
    """Every metric of one set of scores: ranking and calibration metrics, threshold metrics
    at 0.5 and at ``threshold``, per-class accuracy at ``threshold``, ROC and PR curve points."""
    y = np.asarray(y_true).astype(int)
    p = np.clip(np.asarray(p_fake, dtype=np.float64), 0.0, 1.0)
    both = len(np.unique(y)) == 2
    fpr, tpr, _ = roc_curve(y, p) if both else (np.array([]), np.array([]), None)
    precision, recall, _ = (precision_recall_curve(y, p) if both
                            else (np.array([]), np.array([]), None))
    pc = np.clip(p, _EPS, 1 - _EPS)
    per_class = {
        CLASS_NAMES[c]: accuracy_at(p[classes == c], y[classes == c], threshold)
        for c in np.unique(classes)
    }
    return {
        "n": int(len(y)),
        "roc_auc": float(roc_auc_score(y, p)) if both else None,
        "pr_auc": float(average_precision_score(y, p)) if both else None,
        "log_loss": float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc))),
        "brier": float(np.mean((p - y) ** 2)),
        **calibration(y, p),
        "at_0.5": threshold_metrics(y, p, 0.5),
        "at_threshold": threshold_metrics(y, p, threshold),
        "per_class_accuracy": per_class,
        "roc_curve": _thin(fpr, tpr),
        "pr_curve": _thin(recall, precision),
    }


def _thin(x: np.ndarray, y: np.ndarray, n: int = N_CURVE_POINTS) -> dict:
    """At most ``n`` points of a curve, always keeping its ends."""
    if len(x) > n:
        keep = np.unique(np.linspace(0, len(x) - 1, n).round().astype(int))
        x, y = x[keep], y[keep]
    return {"x": np.round(x, 5).tolist(), "y": np.round(y, 5).tolist()}


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of feature rows (the FID formula,
    in whatever feature space ``a`` and ``b`` come from)."""
    from scipy.linalg import sqrtm

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = sqrtm(cov_a @ cov_b)
    root = root.real if np.iscomplexobj(root) else root
    diff = a.mean(axis=0) - b.mean(axis=0)
    return float(max(diff @ diff + np.trace(cov_a + cov_b - 2 * root), 0.0))
