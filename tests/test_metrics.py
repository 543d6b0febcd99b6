"""Binary metrics of P(FAKE) scores, checked against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from core.data.sources import CLASS_NAMES
from core.models.metrics import (
    N_CURVE_POINTS,
    accuracy_at,
    calibration,
    choose_threshold,
    ensemble_scores,
    score_report,
    threshold_metrics,
)

Y = np.array([0, 0, 1, 1, 1])
P = np.array([0.1, 0.6, 0.4, 0.8, 0.9])


# --- accuracy_at and ensemble_scores -----------------------------------------------------------


def test_accuracy_at_by_hand():
    # at 0.5: called FAKE = [0, 1, 0, 1, 1] -> right on 0.1, 0.8, 0.9 -> 3 of 5
    assert accuracy_at(P, Y, 0.5) == pytest.approx(0.6)
    assert accuracy_at(P, Y, 0.35) == pytest.approx(0.8)  # 0.4 is FAKE too
    assert accuracy_at([0.3, 0.7], [0, 1], 0.7) == 1.0  # equal to the threshold is FAKE
    assert accuracy_at(P, Y.astype(bool), 0.5) == accuracy_at(P, Y, 0.5)


def test_ensemble_scores_average_the_named_models():
    scores = {"a": [0.2, 0.9], "b": [0.4, 0.5], "c": [1.0, 1.0]}
    np.testing.assert_allclose(ensemble_scores(scores, ["a", "b"]), [0.3, 0.7])
    np.testing.assert_allclose(ensemble_scores(scores, ["c"]), [1.0, 1.0])


# --- threshold_metrics -------------------------------------------------------------------------


def test_threshold_metrics_by_hand():
    # at 0.5: predicted FAKE = [0, 1, 0, 1, 1] -> TN 1 (0.1), FP 1 (0.6), FN 1 (0.4), TP 2
    m = threshold_metrics(Y, P, 0.5)
    assert m["confusion"] == [[1, 1], [1, 2]]
    assert m["threshold"] == 0.5
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["specificity"] == pytest.approx(0.5)
    assert m["fpr"] == pytest.approx(0.5)


def test_threshold_metrics_score_equal_to_threshold_is_fake():
    m = threshold_metrics([0, 1], [0.3, 0.7], 0.7)
    assert m["confusion"] == [[1, 0], [0, 1]]
    assert m["accuracy"] == 1.0


def test_threshold_metrics_high_threshold_predicts_nothing_fake():
    m = threshold_metrics(Y, P, 0.95)
    assert m["confusion"] == [[2, 0], [3, 0]]
    assert m["accuracy"] == pytest.approx(0.4)
    assert m["precision"] == 0.0 and m["recall"] == 0.0 and m["f1"] == 0.0
    assert m["specificity"] == 1.0 and m["fpr"] == 0.0


# --- calibration -------------------------------------------------------------------------------


def test_calibration_two_bins_by_hand():
    y = np.array([0, 1, 1, 1])
    p = np.array([0.1, 0.3, 0.7, 0.9])
    # bin [0, 0.5): mean p 0.2, observed 1/2 -> |0.2 - 0.5| = 0.3 (2 images)
    # bin [0.5, 1]: mean p 0.8, observed 2/2 -> |0.8 - 1.0| = 0.2 (2 images)
    c = calibration(y, p, n_bins=2)
    assert c["ece"] == pytest.approx((2 * 0.3 + 2 * 0.2) / 4)
    rel = c["reliability"]
    assert rel["mean_predicted"] == pytest.approx([0.2, 0.8])
    assert rel["observed_fake"] == pytest.approx([0.5, 1.0])
    assert rel["count"] == [2, 2]


def test_calibration_default_bins_skip_empty_ones():
    y = np.array([0, 1, 1, 1])
    p = np.array([0.01, 0.03, 0.95, 0.97])  # bins 0 and 14 of 15
    c = calibration(y, p)
    assert c["reliability"]["count"] == [2, 2]
    assert c["reliability"]["mean_predicted"] == pytest.approx([0.02, 0.96])
    assert c["reliability"]["observed_fake"] == pytest.approx([0.5, 1.0])
    assert c["ece"] == pytest.approx((2 * 0.48 + 2 * 0.04) / 4)


def test_calibration_score_of_one_goes_in_last_bin():
    c = calibration([1, 1], [1.0, 0.99], n_bins=10)
    assert c["reliability"]["count"] == [2]
    assert c["ece"] == pytest.approx(0.005)


@pytest.mark.parametrize("y, p", [
    ([0, 0, 1, 1], [0.0, 0.0, 1.0, 1.0]),          # perfect predictions
    ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]),          # perfectly calibrated coin flips
    ([0, 0, 0, 1, 0, 1, 1, 1], [0.25] * 4 + [0.75] * 4),  # 1/4 and 3/4 observed
])
def test_calibration_perfect_is_zero(y, p):
    assert calibration(y, p)["ece"] == pytest.approx(0.0, abs=1e-12)


# --- choose_threshold --------------------------------------------------------------------------


def test_choose_threshold_separable_prefers_half():
    y = [0, 0, 0, 1, 1, 1]
    p = [0.1, 0.2, 0.3, 0.7, 0.8, 0.9]  # any threshold in (0.3, 0.7] is perfect
    assert choose_threshold(y, p) == 0.5


def test_choose_threshold_between_neighbours():
    y = [0, 0, 0, 0, 1, 1]
    p = [0.1, 0.5, 0.6, 0.75, 0.85, 0.9]  # only thresholds in (0.75, 0.85] are perfect
    t = choose_threshold(y, p)
    assert 0.75 < t <= 0.85
    assert t == pytest.approx(0.8)
    assert accuracy_at(p, y, t) == 1.0
    assert accuracy_at(p, y, 0.5) < 1.0


def test_choose_threshold_low_side():
    y = [0, 0, 1, 1]
    p = [0.05, 0.1, 0.2, 0.3]
    t = choose_threshold(y, p)
    assert 0.1 < t <= 0.2 and accuracy_at(p, y, t) == 1.0


@pytest.mark.parametrize("p, expected", [
    ([0.55, 0.6, 0.8, 0.9], 0.575),   # best at 0.575 and 0.85: the one nearer 0.5 wins
    ([0.1, 0.2, 0.42, 0.44], 0.43),   # best at 0.15 and 0.43
])
def test_choose_threshold_tie_breaks_toward_half(p, expected):
    y = [0, 1, 0, 1]
    t = choose_threshold(y, p)
    assert t == pytest.approx(expected)
    assert accuracy_at(p, y, t) == 0.75


def test_choose_threshold_maximises_accuracy_on_random_data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p = np.clip(0.3 * y + rng.normal(0.35, 0.2, 300), 0, 1).round(3)  # with ties
    t = choose_threshold(y, p)
    grid = np.concatenate([np.linspace(-0.01, 1.01, 2001), np.unique(p)])
    best = max(accuracy_at(p, y, g) for g in grid)
    assert accuracy_at(p, y, t) == pytest.approx(best)
    assert accuracy_at(p, y, t) >= accuracy_at(p, y, 0.5)


def test_choose_threshold_all_one_label():
    assert accuracy_at([0.2, 0.6, 0.9], [1, 1, 1],
                       choose_threshold([1, 1, 1], [0.2, 0.6, 0.9])) == 1.0
    assert accuracy_at([0.2, 0.9], [0, 0], choose_threshold([0, 0], [0.2, 0.9])) == 1.0


# --- score_report ------------------------------------------------------------------------------


def test_score_report_keys_and_values():
    rng = np.random.default_rng(1)
    n = 1000
    y = rng.integers(0, 2, n)
    p = np.clip(0.2 * y + rng.uniform(0, 0.8, n), 0, 1)  # overlapping: a long ROC curve
    classes = rng.integers(1, 11, n).astype(np.int8)
    r = score_report(y, p, classes, threshold=0.45)
    assert {"n", "roc_auc", "pr_auc", "log_loss", "brier", "ece", "reliability", "at_0.5",
            "at_threshold", "per_class_accuracy", "roc_curve", "pr_curve"} <= set(r)
    assert r["n"] == n
    assert r["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert r["pr_auc"] == pytest.approx(average_precision_score(y, p))
    pc = np.clip(p, 1e-7, 1 - 1e-7)
    assert r["log_loss"] == pytest.approx(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc)))
    assert r["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert r["at_0.5"] == threshold_metrics(y, p, 0.5)
    assert r["at_threshold"]["threshold"] == 0.45
    assert r["at_threshold"]["accuracy"] == pytest.approx(accuracy_at(p, y, 0.45))
    assert set(r["per_class_accuracy"]) == set(CLASS_NAMES[1:])
    for c in range(1, 11):
        mask = classes == c
        assert r["per_class_accuracy"][CLASS_NAMES[c]] == pytest.approx(
            accuracy_at(p[mask], y[mask], 0.45))
    # curves: thinned to at most N_CURVE_POINTS, ends kept
    assert len(roc_curve(y, p)[0]) > N_CURVE_POINTS  # so thinning is exercised
    roc = r["roc_curve"]
    assert N_CURVE_POINTS - 5 <= len(roc["x"]) <= N_CURVE_POINTS and len(roc["x"]) == len(roc["y"])
    assert (roc["x"][0], roc["y"][0]) == (0.0, 0.0)
    assert (roc["x"][-1], roc["y"][-1]) == (1.0, 1.0)
    assert np.all(np.diff(roc["x"]) >= 0) and np.all(np.diff(roc["y"]) >= 0)
    pr = r["pr_curve"]
    assert N_CURVE_POINTS - 5 <= len(pr["x"]) <= N_CURVE_POINTS and len(pr["x"]) == len(pr["y"])
    assert pr["x"][0] == 1.0 and pr["x"][-1] == 0.0  # recall from 1 down to 0
    assert pr["y"][-1] == 1.0


def test_score_report_roc_curve_unthinned_when_short():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    r = score_report(y, p, np.array([1, 1, 2, 2]), threshold=0.5)
    assert r["roc_auc"] == pytest.approx(0.75)
    assert r["roc_curve"]["x"][0] == 0.0 and r["roc_curve"]["x"][-1] == 1.0
    assert r["per_class_accuracy"] == {"airplane": 1.0, "automobile": 0.5}


def test_score_report_constant_half():
    y = np.array([0, 1] * 10)
    classes = np.array([1] * 10 + [3] * 10)
    r = score_report(y, np.full(20, 0.5), classes, threshold=0.5)
    assert r["log_loss"] == pytest.approx(math.log(2))
    assert r["brier"] == pytest.approx(0.25)
    assert r["roc_auc"] == pytest.approx(0.5)
    assert r["ece"] == pytest.approx(0.0, abs=1e-12)
    assert r["at_0.5"]["confusion"] == [[0, 10], [0, 10]]  # 0.5 >= 0.5: all called FAKE
    assert r["per_class_accuracy"] == {"airplane": 0.5, "bird": 0.5}


def test_score_report_single_label_has_no_ranking_metrics():
    r = score_report(np.ones(4, int), np.array([0.2, 0.6, 0.7, 0.9]), np.ones(4, int),
                     threshold=0.5)
    assert r["roc_auc"] is None and r["pr_auc"] is None
    assert r["roc_curve"] == {"x": [], "y": []}
    assert r["at_threshold"]["accuracy"] == 0.75


def test_score_report_clips_scores():
    r = score_report(np.array([0, 1]), np.array([-0.5, 1.5]), np.array([1, 1]), threshold=0.5)
    assert r["brier"] == 0.0
    assert r["log_loss"] == pytest.approx(-math.log(1 - 1e-7), abs=1e-9)
