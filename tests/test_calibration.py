"""Platt scaling: fitted on validation scores, monotone, and it repairs miscalibration."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from core.models.calibration import apply_calibration, fit_calibration, fit_platt
from core.models.metrics import calibration


def _overconfident(n: int, seed: int):
    """Labels and scores whose true P(FAKE) is sigmoid(z) but which report sigmoid(4 z + 1)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return y, 1 / (1 + np.exp(-(4 * z + 1)))


def test_platt_recovers_the_distortion():
    y, p = _overconfident(20_000, 0)
    fitted = fit_platt(y, p)
    # p = sigmoid(4 z + 1) -> z = (logit(p) - 1) / 4: a = 0.25, b = -0.25
    assert fitted["method"] == "platt"
    assert fitted["a"] == pytest.approx(0.25, abs=0.02)
    assert fitted["b"] == pytest.approx(-0.25, abs=0.05)


def test_calibration_lowers_ece_on_held_out_scores_and_keeps_ranking():
    y_val, p_val = _overconfident(10_000, 1)
    y_test, p_test = _overconfident(10_000, 2)
    fitted = fit_platt(y_val, p_val)
    calibrated = apply_calibration(fitted, p_test)
    before, after = calibration(y_test, p_test)["ece"], calibration(y_test, calibrated)["ece"]
    assert before > 0.08 and after < 0.02
    # float32 ties
    assert roc_auc_score(y_test, calibrated) == pytest.approx(roc_auc_score(y_test, p_test),
                                                              abs=1e-4)
    assert np.all(np.diff(apply_calibration(fitted, np.linspace(0.001, 0.999, 50))) > 0)


def test_no_calibration_passes_scores_through():
    p = np.array([0.0, 0.2, 0.9, 1.0])
    out = apply_calibration(None, p)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, p.astype(np.float32))


def test_saturated_scores_stay_finite():
    fitted = fit_platt(np.array([0, 0, 1, 1, 1]), np.array([0.0, 0.0, 1.0, 1.0, 0.0]))
    out = apply_calibration(fitted, np.array([0.0, 1.0]))
    assert np.all(np.isfinite(out)) and 0 <= out[0] < out[1] <= 1


def test_one_label_is_refused():
    with pytest.raises(ValueError, match="both labels"):
        fit_platt(np.ones(5), np.full(5, 0.7))


def test_stepwise_scores_get_isotonic():
    """Scores that take a few values in the wrong places (a tree's leaves) defeat a sigmoid;
    the cross-validated choice falls to isotonic regression, which brings the error down."""
    rng = np.random.default_rng(3)
    leaf = rng.integers(0, 8, 20_000)
    truth = np.array([0.05, 0.9, 0.2, 0.7, 0.4, 0.95, 0.1, 0.6])  # P(FAKE) of each leaf
    reported = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9])  # what the model says
    y = (rng.random(len(leaf)) < truth[leaf]).astype(int)
    fitted = fit_calibration(y[:10_000], reported[leaf[:10_000]])
    assert fitted["method"] == "isotonic"
    assert fitted["cv_ece"]["platt"] > 0.02 > fitted["cv_ece"]["isotonic"]
    after = calibration(y[10_000:], apply_calibration(fitted, reported[leaf[10_000:]]))["ece"]
    assert after < 0.02 < calibration(y[10_000:], reported[leaf[10_000:]])["ece"]


def test_smooth_scores_keep_platt():
    y, p = _overconfident(10_000, 4)
    assert fit_calibration(y, p)["method"] == "platt"
