"""Probability calibration of a model's P(FAKE), fitted on validation images.

Platt scaling, ``sigmoid(a * logit(p) + b)``, is a strictly increasing map: ranking (AUROC) and
the accuracy at the correspondingly mapped threshold are unchanged, while P(FAKE) = 0.7 comes to
mean that about 70 % of such images are fake. Where Platt scaling cannot bring the expected
calibration error under ``TARGET_ECE`` (the stepwise scores of k-nearest neighbours and trees),
isotonic regression, a monotone step function, is used if it does better. Either way the
parameters live in the model's report and every score the app shows goes through them
(``core.models.artifacts.Predictor``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["TARGET_ECE", "fit_calibration", "fit_isotonic", "fit_platt", "apply_calibration"]

TARGET_ECE = 0.02
_CLIP = 1e-12
_FOLDS = 5


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


def fit_isotonic(y_true: np.ndarray, p_fake: np.ndarray) -> dict:
    """Isotonic regression fitted to (validation) labels and scores:
    ``{"method": "isotonic", "x": [...], "y": [...]}``, the breakpoints of the step function."""
    from sklearn.isotonic import IsotonicRegression

    y = np.asarray(y_true).astype(int)
    if len(np.unique(y)) < 2:
        raise ValueError("calibration needs validation images of both labels")
    fit = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
        np.asarray(p_fake, dtype=np.float64), y)
    return {"method": "isotonic", "x": np.round(fit.X_thresholds_, 7).tolist(),
            "y": np.round(fit.y_thresholds_, 7).tolist()}


def fit_calibration(y_true: np.ndarray, p_fake: np.ndarray, *, seed: int = 0) -> dict:
    """Platt scaling, or isotonic regression where Platt's cross-validated ECE on these scores
    exceeds ``TARGET_ECE`` and isotonic's is lower; the choice and both errors are recorded."""
    from core.models.metrics import calibration

    y, p = np.asarray(y_true).astype(int), np.asarray(p_fake, dtype=np.float64)
    folds = np.random.default_rng(seed).permutation(len(y)) % _FOLDS

    def cv_ece(fit) -> float:
        out = np.empty(len(y))
        for k in range(_FOLDS):
            held = folds == k
            out[held] = apply_calibration(fit(y[~held], p[~held]), p[held])
        return calibration(y, out)["ece"]

    errors = {"platt": cv_ece(fit_platt), "isotonic": cv_ece(fit_isotonic)}
    method = ("isotonic" if errors["platt"] > TARGET_ECE and errors["isotonic"] < errors["platt"]
              else "platt")
    fitted = (fit_isotonic if method == "isotonic" else fit_platt)(y, p)
    return {**fitted, "cv_ece": {k: round(v, 5) for k, v in errors.items()}}


def apply_calibration(calibration: dict | None, p_fake: np.ndarray) -> np.ndarray:
    """Calibrated P(FAKE) (float32); scores pass unchanged when ``calibration`` is None."""
    if calibration is None:
        return np.asarray(p_fake, dtype=np.float32)
    if calibration["method"] == "isotonic":
        return np.interp(np.asarray(p_fake, dtype=np.float64), calibration["x"],
                         calibration["y"]).astype(np.float32)
    z = calibration["a"] * _logit(p_fake) + calibration["b"]
    return (1 / (1 + np.exp(-z))).astype(np.float32)
