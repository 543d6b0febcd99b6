"""Classical models on flattened pixels (scikit-learn pipelines), sized to train on 2 CPU cores.

Each entry of ``CLASSICAL`` builds a fresh pipeline and says, in ``notes``, what was chosen
to make it fit (the notes go into the model's report). Inputs are the flattened RGB pixels
scaled to 0-1 (3,072 values at 32x32).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

__all__ = ["CLASSICAL", "ClassicalSpec", "SWEEP_COMPONENTS", "pca_sweep"]

SWEEP_COMPONENTS = (10, 50, 100, 500, 1000, None)  # None = all 3,072 pixels


@dataclass(frozen=True)
class ClassicalSpec:
    """How to build one classical model: ``build(seed) -> Pipeline``, the at-most number of
    training images it uses (None = all) and notes on the settings."""

    build: Callable[[int], Pipeline]
    notes: str
    max_train: int | None = None


CLASSICAL: dict[str, ClassicalSpec] = {
    "logreg": ClassicalSpec(
        lambda seed: make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=300)),
        "Standardised pixels, L2-regularised logistic regression (C=0.01, lbfgs, 300 iterations).",
    ),
    "naive_bayes": ClassicalSpec(
        lambda seed: make_pipeline(GaussianNB()),
        "Gaussian naive Bayes on raw pixels.",
    ),
    "decision_tree": ClassicalSpec(
        lambda seed: make_pipeline(
            PCA(100, random_state=seed),
            DecisionTreeClassifier(max_depth=12, min_samples_leaf=20, random_state=seed)),
        "PCA to 100 components, then a tree of depth <= 12 with >= 20 images per leaf "
        "(compact, and fits in seconds instead of minutes on 3,072 raw features).",
    ),
    "random_forest": ClassicalSpec(
        lambda seed: make_pipeline(
            PCA(100, random_state=seed),
            RandomForestClassifier(n_estimators=100, max_leaf_nodes=512, n_jobs=-1,
                                   random_state=seed)),
        "PCA to 100 components, 100 trees of at most 512 leaves each (about 12 MB on disk; "
        "150 trees of 1,024 leaves took 29 MB for +1.1 pp, unbounded trees hundreds of MB).",
    ),
    "svm": ClassicalSpec(
        lambda seed: make_pipeline(
            PCA(100, whiten=True, random_state=seed),
            Nystroem(kernel="rbf", gamma=0.01, n_components=1500, random_state=seed),
            CalibratedClassifierCV(LinearSVC(C=0.5), method="sigmoid", cv=3)),
        "RBF SVM approximated: PCA to 100 whitened components, Nystroem map to 1,500 RBF "
        "features (gamma 0.01), linear SVM (C=0.5); probabilities by 3-fold sigmoid "
        "calibration. An exact RBF SVC on 90,000 images does not finish on 2 cores.",
    ),
    "mlp": ClassicalSpec(
        lambda seed: make_pipeline(
            StandardScaler(),
            MLPClassifier(hidden_layer_sizes=(256, 128), alpha=1e-3, batch_size=256,
                          learning_rate_init=1e-3, max_iter=40, early_stopping=True,
                          n_iter_no_change=5, random_state=seed)),
        "Standardised pixels, MLP 3,072-256-128-1 (ReLU, Adam, L2 1e-3), early stopping on "
        "a 10 % hold-out, at most 40 epochs.",
    ),
    "knn": ClassicalSpec(
        lambda seed: make_pipeline(
            StandardScaler(), PCA(40, random_state=seed),
            KNeighborsClassifier(n_neighbors=15, weights="distance")),
        "Standardised pixels, PCA to 40 components, 15 nearest neighbours (distance-weighted) "
        "among 20,000 training images: the model stores those images' 40 PCA coordinates "
        "(3 MB), not pixels.",
        max_train=20_000,
    ),
}


def pca_sweep(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
              *, seed: int = 0, progress=None) -> list[dict]:
    """Test accuracy of logistic regression on the first k principal components, for each k in
    ``SWEEP_COMPONENTS`` (inputs already flattened)."""
    rows = []
    for i, k in enumerate(SWEEP_COMPONENTS):
        if progress:
            progress(i / len(SWEEP_COMPONENTS), f"PCA sweep: {k or 'all'} components")
        steps = [StandardScaler()] + ([PCA(k, random_state=seed)] if k else [])
        model = make_pipeline(*steps, LogisticRegression(C=0.01, max_iter=300))
        model.fit(x_train, y_train)
        rows.append({"components": k or x_train.shape[1],
                     "test_accuracy": float((model.predict(x_test) == y_test).mean())})
    return rows

