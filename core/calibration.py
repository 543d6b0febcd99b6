"""Probability calibration: Platt scaling of a model's P(FAKE), fitted on validation images.

A calibrated score is ``sigmoid(a * logit(p) + b)``: a strictly increasing map, so ranking
(AUROC) and the accuracy at the correspondingly mapped threshold are unchanged, while P(FAKE) = 0.7
comes to mean that about 70 % of such images are fake. The two numbers live in the model's report
and every score the app shows goes through them (``core.artifacts.Predictor``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["fit_platt", "apply_calibration"]

_CLIP = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _CLIP, 1 - _CLIP)
    return np.log(p / (1 - p))


def fit_platt(y_true: np.ndarray, p_fake: np.ndarray) -> dict:
    """Platt scaling fitted to (validation) labels and scores by maximum likelihood:
    ``{"method": "platt", "a": ..., "b": ...}``."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y_true).astype(int)
    if len(np.unique(y)) < 2:
        raise ValueError("calibration needs validation images of both labels")
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(p_fake)[:, None], y)
    return {"method": "platt", "a": float(fit.coef_[0, 0]), "b": float(fit.intercept_[0])}


def apply_calibration(calibration: dict | None, p_fake: np.ndarray) -> np.ndarray:
    """Calibrated P(FAKE) (float32); scores pass unchanged when ``calibration`` is None."""
    if calibration is None:
        return np.asarray(p_fake, dtype=np.float32)
    z = calibration["a"] * _logit(p_fake) + calibration["b"]
    return (1 / (1 + np.exp(-z))).astype(np.float32)
