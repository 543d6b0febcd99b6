"""A weighted ensemble of the shipped CNNs, its weights and threshold chosen on validation images
(``python -m core evaluate --ensemble`` -> ``models/ensemble.json``).

The weights are those of a logistic regression on the logits of the models' calibrated
P(FAKE), constrained to be non-negative: it minimises the validation log-loss, which uses every
image's confidence rather than only the few hundred near the threshold that accuracy counts (a
search maximising validation accuracy over nine weights fits those few images), and no model
enters with a negative weight (two near-copies cannot cancel each other out). The threshold of
the weighted P(FAKE) is then chosen on the same validation images, and a 5-fold cross-fit on
them estimates the validation accuracy of the whole procedure. Test images are only scored: the
weighted ensemble is shown beside the best single model (by validation accuracy) and today's
equal-weight ensemble of the three models with the best test accuracy (decided at 0.5).
"""

from __future__ import annotations

import os

import numpy as np

from core.data.dataset import CACHE_DIR, Dataset
from core.models.artifacts import MODELS_DIR, list_reports, load_predictor, write_json
from core.models.calibration import apply_calibration
from core.models.evaluate import read_test_scores, validation_rows
from core.models.evaluate_tta import view_scores
from core.models.metrics import accuracy_at, choose_threshold, score_report
from core.progress import ProgressFn, silent

__all__ = ["ENSEMBLE_FILE", "cross_fitted_accuracy", "evaluate_ensemble", "fit_weights",
           "reading", "weighted_scores"]

ENSEMBLE_FILE = "ensemble.json"
EQUAL_SIZE = 3  # today's ensemble: the three models with the best test accuracy, mean at 0.5
_CLIP = 5e-5  # half the 4-decimal rounding of the stored scores: logits stay finite
_FOLDS = 5


def _logits(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _CLIP, 1 - _CLIP)
    return np.log(p / (1 - p))


def fit_weights(p_fake: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Non-negative weights ``w`` and a bias ``b`` that minimise the log-loss of
    ``sigmoid(logit(p_fake) @ w + b)`` on labels ``y``.

    Parameters
    ----------
    p_fake : ndarray of shape (n, k)
        Calibrated P(FAKE) of k models.
    y : ndarray of shape (n,)
        0 REAL, 1 FAKE.
    """
    from scipy.optimize import minimize

    z, y = _logits(p_fake), np.asarray(y, dtype=np.float64)
    k = z.shape[1]

    def loss(theta):
        s = z @ theta[:k] + theta[k]
        # log(1 + e^s) - y s, and its gradient (sigmoid(s) - y) per image
        value = np.mean(np.logaddexp(0, s) - y * s)
        grad = (1 / (1 + np.exp(-s)) - y) / len(y)
        return value, np.concatenate([z.T @ grad, [grad.sum()]])

    start = np.concatenate([np.full(k, 1 / k), [0.0]])
    fit = minimize(loss, start, jac=True, method="L-BFGS-B",
                   bounds=[(0, None)] * k + [(None, None)])
    return fit.x[:k], float(fit.x[k])


def weighted_scores(p_fake: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    """The weighted ensemble's P(FAKE) for the models' calibrated scores ``p_fake`` (n, k)."""
    return 1 / (1 + np.exp(-(_logits(p_fake) @ np.asarray(weights) + bias)))


def cross_fitted_accuracy(p_fake: np.ndarray, y: np.ndarray, *, seed: int = 0) -> float:
    """Validation accuracy of fitting the weights and the threshold on 4/5 of the images and
    deciding the other fifth, over 5 folds."""
    folds = np.random.default_rng(seed).permutation(len(y)) % _FOLDS
    right = 0
    for k in range(_FOLDS):
        fit, held = folds != k, folds == k
        weights, bias = fit_weights(p_fake[fit], y[fit])
        threshold = choose_threshold(y[fit], weighted_scores(p_fake[fit], weights, bias))
        p_held = weighted_scores(p_fake[held], weights, bias)
        right += int(((p_held >= threshold) == y[held].astype(bool)).sum())
    return right / len(y)


def evaluate_ensemble(dataset: Dataset, names: list[str] | None = None, *,
                      models_dir: str | os.PathLike = MODELS_DIR, progress: ProgressFn = silent,
                      cache_dir: str | os.PathLike | None = CACHE_DIR) -> dict:
    """Fit the weighted ensemble of the named CNNs (default: every evaluated CNN) on their
    calibrated validation scores, score it on the stored test scores beside the best single
    model and the equal-weight ensemble, and write ``models/ensemble.json``.

    Raises ValueError when fewer than two models qualify, when the models were validated on
    different images or when ``models/test_scores.json`` lacks them or is from other data.
    """
    reports = {r["name"]: r for r in list_reports(models_dir) if r.get("metrics")}
    names = names or [n for n, r in reports.items() if r.get("family") == "cnn"]
    unknown = [n for n in names if n not in reports]
    if unknown:
        raise ValueError(f"unknown or unevaluated model(s) {unknown}; available: "
                         f"{sorted(reports)}")
    if len(names) < 2:
        raise ValueError("an ensemble needs at least two evaluated models")
    stored = read_test_scores(models_dir)
    if stored is None or stored.get("fingerprint") != dataset.fingerprint \
            or set(names) - set(stored["scores"]):
        raise ValueError("models/test_scores.json lacks these models' scores on this dataset "
                         "(python -m core evaluate --model NAME)")
    rows = validation_rows(reports[names[0]], dataset)
    for name in names[1:]:
        if not np.array_equal(validation_rows(reports[name], dataset), rows):
            raise ValueError(f"{name} was validated on other images than {names[0]}; an "
                             "ensemble needs one validation set")
    y_val = dataset.labels[rows]
    p_val = np.empty((len(rows), len(names)))
    for j, name in enumerate(names):
        progress(j / len(names), f"Validation scores of {name}")
        predictor = load_predictor(name, models_dir, calibrated=False)
        raw = view_scores(predictor, dataset.images[rows], part="validation",
                          fingerprint=dataset.fingerprint, cache_dir=cache_dir)
        # rounded as the stored test scores are
        p_val[:, j] = np.round(apply_calibration(reports[name]["calibration"], raw), 4)
    progress(1.0, "Fitting the weights")
    p_test = np.array([stored["scores"][n] for n in names], dtype=np.float64).T
    y_test = np.asarray(stored["labels"])
    leakfree = np.asarray(stored["leakfree"]).astype(bool)

    weights, bias = fit_weights(p_val, y_val)
    threshold = choose_threshold(y_val, weighted_scores(p_val, weights, bias))
    weighted = _figures(weighted_scores(p_val, weights, bias),
                        weighted_scores(p_test, weights, bias), y_val, y_test, leakfree,
                        threshold)
    weighted["cross_fitted_validation_accuracy"] = cross_fitted_accuracy(p_val, y_val)
    best = max(names, key=lambda n: reports[n]["validation"]["accuracy"])
    j = names.index(best)
    right_weighted = (weighted_scores(p_test, weights, bias) >= threshold) == y_test.astype(bool)
    right_best = (p_test[:, j] >= reports[best]["threshold"]) == y_test.astype(bool)
    by_test = sorted(names, key=lambda n: -reports[n]["metrics"]["test"]["at_threshold"]
                     ["accuracy"])[:EQUAL_SIZE]
    cols = [names.index(n) for n in by_test]
    result = {
        "models": names,
        "method": "non-negative logistic regression on the logits of the calibrated P(FAKE), "
                  "fitted on validation images (minimum log-loss); threshold chosen on "
                  "validation",
        "weights": {n: round(float(w), 5) for n, w in zip(names, weights)},
        "bias": round(bias, 5),
        "threshold": threshold,
        "weighted": weighted,
        "best_single": {"name": best, **_figures(p_val[:, j], p_test[:, j], y_val, y_test,
                                                 leakfree, reports[best]["threshold"])},
        "equal": {"models": by_test, **_figures(p_val[:, cols].mean(1), p_test[:, cols].mean(1),
                                                y_val, y_test, leakfree, 0.5)},
        # the test images on which exactly one of the two is right
        "only_weighted_right": int((right_weighted & ~right_best).sum()),
        "only_best_right": int((right_best & ~right_weighted).sum()),
        "evaluated_on": {"fingerprint": dataset.fingerprint, "n_validation": len(rows),
                         "n_test": len(y_test), "n_leakfree_test": int(leakfree.sum())},
    }
    result["reading"] = reading(result)
    write_json(result, ENSEMBLE_FILE, models_dir)
    return result


def _figures(p_val: np.ndarray, p_test: np.ndarray, y_val: np.ndarray, y_test: np.ndarray,
             leakfree: np.ndarray, threshold: float) -> dict:
    """Accuracy at ``threshold`` and AUROC on validation, test and leak-free test, with the
    number of test images decided right."""
    test = score_report(y_test, p_test, np.zeros(len(y_test), int), threshold=threshold)
    free = score_report(y_test[leakfree], p_test[leakfree], np.zeros(int(leakfree.sum()), int),
                        threshold=threshold)
    return {
        "threshold": float(threshold),
        "validation_accuracy": accuracy_at(p_val, y_val, threshold),
        "validation_auroc": score_report(y_val, p_val, np.zeros(len(y_val), int),
                                         threshold=threshold)["roc_auc"],
        "test_accuracy": test["at_threshold"]["accuracy"],
        "test_correct": int(round(test["at_threshold"]["accuracy"] * len(y_test))),
        "test_auroc": test["roc_auc"],
        "test_log_loss": test["log_loss"],
        "leakfree_accuracy": free["at_threshold"]["accuracy"],
        "leakfree_auroc": free["roc_auc"],
    }


def reading(result: dict) -> str:
    """The comparison in plain words: does weighting beat the best single model and the
    equal-weight ensemble, by how much and on how many test images."""
    w, best, equal = result["weighted"], result["best_single"], result["equal"]
    n = result["evaluated_on"]["n_test"]
    gain = w["test_correct"] - best["test_correct"]
    versus = ("beats" if gain > 0 else "ties with" if gain == 0 else "falls behind")
    top = sorted(result["weights"].items(), key=lambda kv: -kv[1])
    used = [f"{name} {weight:.2f}" for name, weight in top if weight > 0]
    dropped = [name for name, weight in top if weight == 0]
    equal_gain = w["test_correct"] - equal["test_correct"]
    return (
        f"Weighted by validation, the ensemble {versus} the best single model ({best['name']}, "
        f"chosen on validation): {100 * w['test_accuracy']:.2f} % against "
        f"{100 * best['test_accuracy']:.2f} % on the {n:,} test images, "
        f"{abs(gain):,} images {'more' if gain >= 0 else 'fewer'} decided right (it is right "
        f"on {result['only_weighted_right']:,} test images that {best['name']} gets wrong, and "
        f"wrong on {result['only_best_right']:,} that {best['name']} gets right; "
        f"{100 * (w['test_accuracy'] - best['test_accuracy']):+.2f} pp; leak-free "
        f"{100 * (w['leakfree_accuracy'] - best['leakfree_accuracy']):+.2f} pp), AUROC "
        f"{w['test_auroc']:.4f} against {best['test_auroc']:.4f}. Against today's equal-weight "
        f"ensemble of {', '.join(equal['models'])}: {equal_gain:+,} images "
        f"({100 * (w['test_accuracy'] - equal['test_accuracy']):+.2f} pp). Weights: "
        f"{', '.join(used)}" + (f"; {', '.join(dropped)} get none" if dropped else "") + ". "
        f"On validation the weighting was estimated, by cross-fitting, at "
        f"{100 * w['cross_fitted_validation_accuracy']:.2f} % against "
        f"{100 * best['validation_accuracy']:.2f} % for {best['name']}."
    )
