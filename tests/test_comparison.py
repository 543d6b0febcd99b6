"""Tables comparing models: agreement, the averaging ensemble and confusion-cell drill-downs."""

from __future__ import annotations

import numpy as np
import pytest

from core.models.comparison import agreement_matrix, ensemble_report, mistakes

SCORES = np.array([0.9, 0.2, 0.6, 0.4])
LABELS = np.array([0, 0, 1, 1])  # at 0.5: called [FAKE, REAL, FAKE, REAL]


def test_mistakes_most_confident_first():
    assert mistakes(SCORES, LABELS, 0.5).tolist() == [0, 3]  # |0.9 - 0.5| before |0.4 - 0.5|
    assert mistakes(SCORES, LABELS, 0.5, cell=(0, 1)).tolist() == [0]
    assert mistakes(SCORES, LABELS, 0.5, cell=(1, 1)).tolist() == [2]
    assert mistakes(SCORES, LABELS, 0.5, limit=1).tolist() == [0]
    assert mistakes(SCORES, LABELS, 0.95).tolist() == [3, 2]  # both FAKEs called REAL


def test_agreement_matrix_uses_each_models_threshold():
    matrix = agreement_matrix({"a": SCORES, "b": [0.9, 0.9, 0.1, 0.1]}, {"a": 0.5, "b": 0.5})
    assert matrix.loc["a", "b"] == matrix.loc["b", "a"] == 0.5
    assert matrix.loc["a", "a"] == 1.0
    moved = agreement_matrix({"a": SCORES, "b": SCORES}, {"a": 0.5, "b": 0.95})
    assert moved.loc["a", "b"] == 0.5  # b calls everything REAL


def test_ensemble_report_decides_the_mean_at_half():
    scores = {"a": SCORES, "b": [0.1, 0.2, 0.8, 0.8], "c": [1.0] * 4}
    report = ensemble_report(scores, ["a", "b"], LABELS, [1, 1, 2, 2], [1, 1, 1, 0])
    # mean P(FAKE) [0.5, 0.2, 0.7, 0.6]: called [FAKE, REAL, FAKE, FAKE] -> 3 of 4 right
    assert report["test"]["at_0.5"]["accuracy"] == pytest.approx(0.75)
    assert report["leakfree_test"]["n"] == 3
    assert report["leakfree_test"]["at_0.5"]["accuracy"] == pytest.approx(2 / 3)
