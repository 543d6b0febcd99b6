"""What the detectors know and how far their verdicts hold: the off-distribution score fitted on
training features and measured on test images and off-distribution stand-ins
(``models/ood.json``, ``python -m core ood``), and the stability check's unstable share and the
accuracy of stable and unstable verdicts on the leak-free test set (``models/stability.json``,
``python -m core stability``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace

import cv2
import numpy as np

from core.data.dataset import Dataset, train_val_rows
from core.data.imageio import CIFAKE_JPEG_QUALITY, decode_image, describe_image, png_bytes
from core.data.perturb import STABILITY_CHECKS, blur, encode_jpeg, noise, rescale
from core.data.quality import leakfree_test_mask
from core.data.sources import stratified_split
from core.detect import ood
from core.detect.predict import ENSEMBLE, load_detector, prepare, stability
from core.labs.robustness import evaluation_rows
from core.models.artifacts import MODELS_DIR, load_predictor, read_report, write_json
from core.progress import ProgressFn, silent, subrange

__all__ = ["OOD_MODELS", "STABILITY_REPORT", "build_ood", "measure_stability", "proxies"]

OOD_MODELS = ("scanner", "flagship")  # the models whose features get a fitted Gaussian
STABILITY_REPORT = "stability.json"
NOTE = ("The stand-ins below are size, format, quality and degradation changes of CIFAKE test "
        "images and synthetic smooth images; how well the learned score separates CIFAKE from "
        "unseen generators' 32x32 JPEGs at quality 75 (the project's GAN and VAE) is measured by "
        "`python -m core generalize` in models/generalization.json.")




def _upscaled(image: np.ndarray) -> bytes:
    return encode_jpeg(cv2.resize(image, (512, 512), interpolation=cv2.INTER_CUBIC),
                       CIFAKE_JPEG_QUALITY)


def _smooth_images(n: int, side: int = 512, seed: int = 0) -> list[np.ndarray]:
    """Synthetic natural-looking images: blurred colour noise over a gradient, with grain."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        coarse = rng.uniform(0, 255, (8, 8, 3)).astype(np.float32)
        field = cv2.resize(coarse, (side, side), interpolation=cv2.INTER_CUBIC)
        ramp = np.linspace(-40, 40, side, dtype=np.float32)[:, None, None]
        grain = rng.normal(0, 6, (side, side, 3)).astype(np.float32)
        out.append(np.clip(field + ramp + grain, 0, 255).astype(np.uint8))
    return out


def proxies(images: np.ndarray, n_synthetic: int = 200) -> dict[str, Callable]:
    """Off-distribution stand-ins made from 32x32 test ``images``: label -> a function giving
    ``(infos or None, model inputs)``. Files go through decoding, the file rules and the
    model's 32x32 resize as an upload would; degradations are model inputs only."""

    def files(make: Callable[[], list[bytes]]) -> Callable:
        def run():
            data = make()
            return ([describe_image(d) for d in data],
                    np.stack([prepare(decode_image(d), images.shape[1]) for d in data]))
        return run

    return {
        "CIFAKE test, upscaled to 512x512 (JPEG q75)": files(
            lambda: [_upscaled(i) for i in images]),
        "synthetic smooth 512x512 photos (JPEG q75)": files(
            lambda: [encode_jpeg(i, CIFAKE_JPEG_QUALITY) for i in _smooth_images(n_synthetic)]),
        "CIFAKE test, PNG re-save": files(lambda: [png_bytes(i) for i in images]),
        "CIFAKE test, JPEG q30 re-save": files(lambda: [encode_jpeg(i, 30) for i in images]),
        "CIFAKE test, JPEG q95 re-save": files(lambda: [encode_jpeg(i, 95) for i in images]),
        "CIFAKE test, blur σ 1.0": lambda: (None, blur(images, 1.0)),
        "CIFAKE test, noise σ 8": lambda: (None, noise(images, 8.0)),
        "CIFAKE test, rescale via 16 px": lambda: (None, rescale(images, 16)),
    }


def _rate(mask: np.ndarray) -> float:
    return round(float(np.mean(mask)), 4)


def build_ood(dataset: Dataset, names: tuple[str, ...] = OOD_MODELS, *, train_sample: int = 10_000,
              proxy_sample: int = 1000, models_dir: str | os.PathLike = MODELS_DIR,
              progress: ProgressFn = silent) -> dict:
    """Fit each model's feature Gaussian on a stratified ``train_sample`` of the training rows,
    set its cut-off on the validation rows (at most ``ood.FLAG_RATE`` flagged), measure flag
    rates on the test and leak-free test sets and on ``proxies`` of a stratified
    ``proxy_sample`` of leak-free test images, and write ``models/ood.json``."""
    train, val = train_val_rows(dataset)
    if train_sample < len(train):
        train = train[stratified_split(dataset.labels[train], dataset.classes[train],
                                       train_sample / len(train), seed=0)]
    test = np.flatnonzero(dataset.splits == 1)
    leakfree = leakfree_test_mask(dataset.hashes, dataset.splits)[test]
    sample = dataset.images[evaluation_rows(dataset, proxy_sample)]
    made = {}
    for i, (label, make) in enumerate(proxies(sample).items()):
        progress(0.1 * i / 8, f"Making {label}")
        made[label] = make()
    report = {"flag_rate_target": ood.FLAG_RATE, "train_images": int(len(train)),
              "validation_images": int(len(val)), "test_images": int(len(test)),
              "leakfree_test_images": int(leakfree.sum()), "proxy_images": int(len(sample)),
              "note": NOTE, "models": {}}
    for k, name in enumerate(names):
        step = subrange(progress, 0.1 + 0.9 * k / len(names), 0.1 + 0.9 * (k + 1) / len(names))
        predictor = load_predictor(name, models_dir)
        sha = read_report(name, models_dir).get("sha256", "")
        step(0.0, f"{name}: features of {len(train):,} training images")
        gaussian = ood.fit_gaussian(predictor.features(dataset.images[train]), name, sha)
        step(0.2, f"{name}: validation cut-off")
        distances = gaussian.distance(predictor.features(dataset.images[val]))
        gaussian = replace(gaussian, cutoff=ood.cutoff_for(distances))
        step(0.4, f"{name}: test images")
        flagged = gaussian.score(predictor.features(dataset.images[test])) > 1
        rates = {"validation": _rate(distances > gaussian.cutoff), "test": _rate(flagged),
                 "leakfree_test": _rate(flagged[leakfree])}
        stand_ins = {}
        for j, (label, (infos, inputs)) in enumerate(made.items()):
            step(0.7 + 0.3 * j / len(made), f"{name}: {label}")
            learned = gaussian.score(predictor.features(inputs)) > 1
            rules = (np.array([bool(ood.rule_reasons(info)) for info in infos])
                     if infos is not None else np.zeros(len(inputs), bool))
            stand_ins[label] = {"images": int(len(inputs)), "rules": _rate(rules),
                                "learned": _rate(learned), "either": _rate(rules | learned)}
        report["models"][name] = {**ood.to_report(gaussian), "flag_rates": rates,
                                  "stand_ins": stand_ins}
    progress(1.0, "Writing models/ood.json")
    write_json(report, ood.REPORT, models_dir)
    return report


def measure_stability(dataset: Dataset, names: list[str] | None = None, *, limit: int | None = 2000,
                      models_dir: str | os.PathLike = MODELS_DIR,
                      progress: ProgressFn = silent) -> dict:
    """The stability check on a stratified ``limit`` of the leak-free test images (all with
    None), per model and the default ensemble: the share marked unstable, which check flips how
    many verdicts, and the accuracy of stable and unstable verdicts; written to
    ``models/stability.json``."""
    rows = evaluation_rows(dataset, limit)
    detector = load_detector(names, models_dir=models_dir)
    labels = dataset.labels[rows]
    result_parts = []
    for start in range(0, len(rows), 500):
        progress(start / len(rows), f"Stability of {start:,} / {len(rows):,} images")
        result_parts.append(stability(detector, dataset.images[rows[start:start + 500]]))
    report = {"images": int(len(rows)), "limit": limit, "checks": list(STABILITY_CHECKS),
              "ensemble": detector.ensemble, "models": {}}
    for name in [*detector.names, ENSEMBLE]:
        p = np.concatenate([r.original[name] for r in result_parts])
        unstable = np.concatenate([r.flips[name] for r in result_parts])
        right = (p >= detector.threshold(name)) == (labels == 1)
        report["models"][name] = {
            "unstable_share": _rate(unstable),
            "accuracy": _rate(right),
            "accuracy_stable": _rate(right[~unstable]) if (~unstable).any() else None,
            "accuracy_unstable": _rate(right[unstable]) if unstable.any() else None,
            "stable_images": int((~unstable).sum()), "unstable_images": int(unstable.sum()),
            "flipped_by": {check: _rate(np.concatenate([r.flipped[check][name]
                                                        for r in result_parts]))
                           for check in STABILITY_CHECKS},
        }
    progress(1.0, f"Writing models/{STABILITY_REPORT}")
    write_json(report, STABILITY_REPORT, models_dir)
    return report
