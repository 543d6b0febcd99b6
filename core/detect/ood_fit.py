"""Fitting the off-distribution score (``core.detect.ood``): each model's Gaussian on the
penultimate features of stratified training images, and its cut-off on the validation images."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np

from core.data.dataset import Dataset, train_val_rows
from core.data.sources import stratified_split
from core.detect import ood
from core.models.artifacts import MODELS_DIR, load_predictor, read_report
from core.progress import ProgressFn, silent, subrange

__all__ = ["OOD_MODELS", "OodFit", "fit_ood"]

OOD_MODELS = ("scanner", "flagship")  # the models whose features get a fitted Gaussian


@dataclass(frozen=True)
class OodFit:
    """One model's fitted Gaussian with the images it was fitted and cut off on."""

    gaussian: ood.Gaussian
    train_images: int
    validation_images: int
    validation_flag_rate: float  # share of validation images beyond the cut-off


def fit_ood(dataset: Dataset, names: tuple[str, ...] = OOD_MODELS, *,
            train_sample: int = 10_000, models_dir: str | os.PathLike = MODELS_DIR,
            progress: ProgressFn = silent) -> dict[str, OodFit]:
    """Each model's feature Gaussian, fitted on a stratified ``train_sample`` of the training
    rows, with the cut-off that at most ``ood.FLAG_RATE`` of the validation rows exceed."""
    train, val = train_val_rows(dataset)
    if train_sample < len(train):
        train = train[stratified_split(dataset.labels[train], dataset.classes[train],
                                       train_sample / len(train), seed=0)]
    fits = {}
    for k, name in enumerate(names):
        step = subrange(progress, k / len(names), (k + 1) / len(names))
        predictor = load_predictor(name, models_dir)
        sha = read_report(name, models_dir).get("sha256", "")
        step(0.0, f"{name}: features of {len(train):,} training images")
        gaussian = ood.fit_gaussian(predictor.features(dataset.images[train]), name, sha)
        step(0.6, f"{name}: cut-off on {len(val):,} validation images")
        distances = gaussian.distance(predictor.features(dataset.images[val]))
        cutoff = ood.cutoff_for(distances)
        fits[name] = OodFit(replace(gaussian, cutoff=cutoff), int(len(train)), int(len(val)),
                            round(float(np.mean(distances > cutoff)), 4))
    progress(1.0, "Fitted")
    return fits
