"""Adversarial examples against the CNNs: FGSM and PGD in pixel space (epsilon in /255 units),
and accuracy-versus-epsilon curves.

Curves for the named CNNs (default: every evaluated CNN) are merged into
``models/adversarial.json`` (``python -m core adversarial``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from core.data.dataset import Dataset
from core.models.artifacts import (
    MODELS_DIR,
    Predictor,
    list_reports,
    load_predictor,
    read_json,
    write_json,
)
from core.models.metrics import accuracy_at
from core.progress import ProgressFn, silent

__all__ = ["EPSILONS", "REPORT", "ImageAttack", "attack", "attack_image", "curves", "fgsm",
           "loss_gradient", "pgd"]

REPORT = "adversarial.json"
EPSILONS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)  # in /255 units: pixels move at most this much
PGD_STEPS = 10
BATCH = 250


def loss_gradient(model, images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Binary cross-entropy of the true labels and its gradient with respect to the 0-255
    input pixels: ``(loss per image, gradient)``."""
    import tensorflow as tf

    x = tf.convert_to_tensor(images, tf.float32)
    y = tf.convert_to_tensor(np.asarray(labels, np.float32).reshape(-1, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        p = tf.clip_by_value(model(x, training=False), 1e-7, 1 - 1e-7)
        loss = -(y * tf.math.log(p) + (1 - y) * tf.math.log(1 - p))
    return np.asarray(loss).reshape(-1), np.asarray(tape.gradient(loss, x))


def fgsm(model, images: np.ndarray, labels: np.ndarray, epsilon: float) -> np.ndarray:
    """Fast Gradient Sign Method: one step of ``epsilon`` (in /255 units) along the sign of the
    loss gradient; returns float32 images in 0-255."""
    x = images.astype(np.float32)
    if epsilon == 0:
        return x
    _, grad = loss_gradient(model, x, labels)
    return np.clip(x + epsilon * np.sign(grad), 0, 255)


def pgd(model, images: np.ndarray, labels: np.ndarray, epsilon: float, *,
        steps: int = PGD_STEPS, seed: int = 0) -> np.ndarray:
    """Projected Gradient Descent: ``steps`` signed-gradient steps of ``epsilon / 4`` from a
    random start, each projected back into the ``epsilon`` ball (L-infinity, /255 units) and
    the 0-255 range."""
    x0 = images.astype(np.float32)
    if epsilon == 0:
        return x0
    rng = np.random.default_rng(seed)
    x = np.clip(x0 + rng.uniform(-epsilon, epsilon, x0.shape).astype(np.float32), 0, 255)
    for _ in range(steps):
        _, grad = loss_gradient(model, x, labels)
        x = np.clip(x + (epsilon / 4) * np.sign(grad), x0 - epsilon, x0 + epsilon)
        x = np.clip(x, 0, 255)
    return x


def attack(model, images: np.ndarray, labels: np.ndarray, method: str,
           epsilon: float) -> np.ndarray:
    """``fgsm`` or ``pgd`` in batches."""
    fn = {"fgsm": fgsm, "pgd": pgd}[method]
    return np.concatenate([fn(model, images[i:i + BATCH], labels[i:i + BATCH], epsilon)
                           for i in range(0, len(images), BATCH)])


@dataclass(frozen=True)
class ImageAttack:
    """One image before and after an attack, and a model's P(FAKE) of each."""

    original: np.ndarray  # uint8, (size, size, 3)
    attacked: np.ndarray  # float32 in 0-255: the adversarial input the model scored
    epsilon: float
    p_before: float
    p_after: float

    @property
    def change(self) -> np.ndarray:
        """Per-pixel change in 0-255 units (float32, at most ``epsilon`` in size)."""
        return self.attacked - self.original.astype(np.float32)

    @property
    def largest_change(self) -> float:
        """The largest change of any pixel value, in 0-255 units."""
        return float(np.abs(self.change).max())

    @property
    def mean_change(self) -> float:
        """The mean absolute change of the pixel values, in 0-255 units."""
        return float(np.abs(self.change).mean())

    @property
    def shown(self) -> np.ndarray:
        """The attacked image rounded to uint8 for display."""
        return self.attacked.round().clip(0, 255).astype(np.uint8)

    @property
    def amplified_change(self) -> np.ndarray:
        """The change stretched to full contrast around mid-grey (uint8), to make it visible."""
        scale = 127 / max(self.epsilon, 1e-6)
        return (128 + self.change * scale).clip(0, 255).astype(np.uint8)


def attack_image(predictor: Predictor, image: np.ndarray, label: int, method: str,
                 epsilon: float) -> ImageAttack:
    """Attack one uint8 image with ``fgsm`` or ``pgd`` against a loaded CNN, scoring it before
    and after through ``predictor.predict`` as everywhere else."""
    attacked = attack(predictor.model, image[None], np.array([label]), method, epsilon)[0]
    return ImageAttack(original=image, attacked=attacked, epsilon=epsilon,
                       p_before=float(predictor.predict(image[None])[0]),
                       p_after=float(predictor.predict(attacked[None])[0]))


def curves(model, threshold: float, images: np.ndarray, labels: np.ndarray, *,
           epsilons=EPSILONS, progress: ProgressFn = silent) -> dict:
    """Accuracy at ``threshold`` of one model under FGSM and PGD at each epsilon, and the mean
    P(FAKE) change: ``{method: [{"epsilon", "accuracy", "mean_abs_change"}, ...]}``."""
    clean = np.asarray(model.predict(images, batch_size=1024, verbose=0)).reshape(-1)
    out: dict[str, list[dict[str, float]]] = {}
    steps = [(m, e) for m in ("fgsm", "pgd") for e in epsilons]
    for i, (method, epsilon) in enumerate(steps):
        progress(i / len(steps), f"{method.upper()} epsilon {epsilon}/255")
        adversarial = attack(model, images, labels, method, epsilon)
        p = np.asarray(model.predict(adversarial, batch_size=1024, verbose=0)).reshape(-1)
        out.setdefault(method, []).append({
            "epsilon": epsilon, "accuracy": accuracy_at(p, labels, threshold),
            "mean_abs_change": float(np.abs(p - clean).mean())})
    return out


def run(names: list[str] | None, dataset: Dataset, *, n: int = 1000,
        models_dir: str | os.PathLike = MODELS_DIR, progress: ProgressFn = silent) -> dict:
    """Curves for ``names`` (default: every evaluated CNN) on a stratified sample of ``n``
    leak-free test images, merged into ``models/adversarial.json``."""
    from core.labs.robustness import evaluation_rows
    from core.progress import subrange

    reports = {r["name"]: r for r in list_reports(models_dir)
               if "metrics" in r and r.get("family") != "classical"}
    names = names or list(reports)
    unknown = [x for x in names if x not in reports]
    if unknown:
        raise ValueError(f"not an evaluated CNN: {unknown}; available: {sorted(reports)}")
    rows = evaluation_rows(dataset, n)
    images, labels = dataset.images[rows], dataset.labels[rows]
    report = read_json(REPORT, models_dir) or {}
    if (report.get("fingerprint") not in (None, dataset.fingerprint)
            or report.get("rows") != len(rows)):
        report = {}
    report.update({"fingerprint": dataset.fingerprint, "rows": int(len(rows)),
                   "set": f"leak-free test, stratified subset of {len(rows):,}",
                   "epsilons": list(EPSILONS), "pgd_steps": PGD_STEPS})
    for i, name in enumerate(names):
        model = load_predictor(name, models_dir).model
        report.setdefault("models", {})[name] = curves(
            model, float(reports[name]["threshold"]), images, labels,
            progress=subrange(progress, i / len(names), (i + 1) / len(names)))
    write_json(report, REPORT, models_dir)
    return report

