"""The filters lab: the reference study's four image filters and its train-on-filtered matrix.

For each training variant (original images and each filter) a CNN is trained on the filtered
train split and tested on the filtered and on the original leak-free test images; ``python -m
core filters`` writes the matrix to ``models/filter_matrix.json``.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from core.data.dataset import Dataset
from core.data.perturb import blur, gray_world
from core.models.artifacts import load_predictor
from core.models.metrics import accuracy_at
from core.progress import ProgressFn, silent, subrange

__all__ = ["FILTERS", "REFERENCE", "REPORT", "Filter", "apply_filter", "filter_matrix",
           "srm_residual"]

REPORT = "filter_matrix.json"
CHUNK = 10_000

# The SRM high-pass kernels (Fridrich & Kodovsky 2012) used as three residual channels
_SRM = [
    np.array([[0, 0, 0], [1, -2, 1], [0, 0, 0]], np.float32) / 2,  # 2nd order, horizontal
    np.array([[-1, 2, -1], [2, -4, 2], [-1, 2, -1]], np.float32) / 4,  # 3x3 "KB"
    np.array([[-1, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2],
              [2, -6, 8, -6, 2], [-1, 2, -2, 2, -1]], np.float32) / 12,  # 5x5 "KV"
]
SRM_GAIN = 4.0  # residuals are shown and learned as 128 + 4 x residual


def srm_residual(images: np.ndarray) -> np.ndarray:
    """SRM noise residuals of the grey image: three high-pass filters, one per output channel,
    mapped to 128 + 4 x residual (uint8)."""
    out = np.empty_like(images)
    for i, image in enumerate(images):
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
        for c, kernel in enumerate(_SRM):
            residual = cv2.filter2D(grey, -1, kernel, borderType=cv2.BORDER_REFLECT)
            out[i, :, :, c] = np.clip(128 + SRM_GAIN * residual, 0, 255).round()
    return out


def _median(images: np.ndarray) -> np.ndarray:
    return np.stack([cv2.medianBlur(image, 3) for image in images])


@dataclass(frozen=True)
class Filter:
    """One of the reference study's filters."""

    label: str
    description: str  # what it keeps or removes, in plain words
    apply: Callable[[np.ndarray], np.ndarray]  # uint8 batch -> filtered uint8 batch


FILTERS = {
    "gray_world": Filter("Gray World", "removes colour casts: every channel gets the same mean",
                         gray_world),
    "gaussian": Filter("Gaussian blur", "sigma 1 pixel: removes the finest detail",
                       lambda x: blur(x, 1.0)),
    "median": Filter("Median blur", "3x3 median: removes isolated pixel noise, keeps edges",
                     _median),
    "srm": Filter("SRM noise residual",
                  "keeps only the high-frequency residual, no colour or shape", srm_residual),
}

# The reference study's accuracies when training and testing on filtered images
REFERENCE = {"gray_world": 0.50, "gaussian": 0.953, "median": 0.929, "srm": 0.855}
REFERENCE_ON_ORIGINAL = 0.50  # its filter-trained models on original images


def apply_filter(name: str, images: np.ndarray) -> np.ndarray:
    """Filter ``name`` (or "original": a copy) applied to a uint8 batch, in chunks."""
    if name == "original":
        return images.copy()
    fn = FILTERS[name].apply
    return np.concatenate([fn(images[i:i + CHUNK]) for i in range(0, len(images), CHUNK)]) \
        if len(images) else images.copy()


def filter_matrix(dataset: Dataset, *, model: str = "reference_cnn", epochs: int = 3,
                  limit: int | None = None, test_limit: int | None = None,
                  progress: ProgressFn = silent) -> dict:
    """Train ``model`` on each variant of the train split (original and each filter; at most
    ``limit`` images) and test each on every variant of the leak-free test set (or a
    stratified subset of ``test_limit``); accuracy at the model's validation-chosen threshold."""
    from core.labs.robustness import evaluation_rows
    from core.models.train import TrainConfig, train, train_val_rows

    variants = ["original", *FILTERS]
    config = TrainConfig(model=model, epochs=epochs, augment=("flip",), limit=limit)
    fitted = train_val_rows(dataset, val_fraction=config.val_fraction, seed=config.seed,
                            limit=limit)
    test_rows = evaluation_rows(dataset, test_limit)
    # only the images used are filtered: the runs' training and validation rows, the test rows
    used = dataset.subset(np.sort(np.concatenate([*fitted, test_rows])))
    tested = used.splits == 1
    y = used.labels[tested]
    tests = {v: apply_filter(v, used.images[tested]) for v in variants}
    matrix, seconds = {}, {}
    with tempfile.TemporaryDirectory() as models_dir:
        for i, variant in enumerate(variants):
            step = subrange(progress, i / len(variants), (i + 1) / len(variants))
            step(0.0, f"Training {model} on {variant} images")
            filtered = dataclasses.replace(used, images=apply_filter(variant, used.images))
            start = time.perf_counter()
            # the subset's train split is exactly the rows the limit chose
            report = train(dataclasses.replace(config, name=f"{model}_{variant}", limit=None),
                           filtered, models_dir=models_dir, verbose=0)
            seconds[variant] = round(time.perf_counter() - start, 1)
            predictor = load_predictor(report["name"], models_dir)
            matrix[variant] = {test: accuracy_at(predictor.predict(x), y, report["threshold"])
                               for test, x in tests.items()}
            step(1.0, f"{variant}: {matrix[variant][variant]:.3f}")
    return {"model": model, "epochs": epochs, "limit": limit, "n_test": int(len(test_rows)),
            "fingerprint": dataset.fingerprint, "variants": variants, "accuracy": matrix,
            "train_seconds": seconds,
            "filters": {k: {"label": f.label, "description": f.description}
                        for k, f in FILTERS.items()},
            "reference": {"filtered": REFERENCE, "on_original": REFERENCE_ON_ORIGINAL}}

