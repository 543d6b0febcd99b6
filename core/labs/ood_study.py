"""How well the off-distribution score (``core.detect.ood``, fitted by ``core.detect.ood_fit``)
flags inputs: its flag rates on the CIFAKE test and leak-free test sets and on off-distribution
stand-ins (upscaled, re-saved, degraded CIFAKE test images and synthetic photos), for
``models/ood.json`` (``python -m core ood``)."""

from __future__ import annotations

import os
from collections.abc import Callable

import cv2
import numpy as np

from core.data.dataset import Dataset
from core.data.imageio import CIFAKE_JPEG_QUALITY, decode_image, describe_image, png_bytes
from core.data.perturb import blur, encode_jpeg, noise, rescale
from core.data.quality import leakfree_test_mask
from core.detect import ood
from core.detect.detector import prepare
from core.detect.ood_fit import OodFit
from core.labs.robustness import evaluation_rows
from core.models.artifacts import MODELS_DIR, load_predictor
from core.progress import ProgressFn, silent, subrange

__all__ = ["measure_ood", "proxies"]

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


def measure_ood(dataset: Dataset, fits: dict[str, OodFit], *, proxy_sample: int = 1000,
                models_dir: str | os.PathLike = MODELS_DIR,
                progress: ProgressFn = silent) -> dict:
    """Flag rates of each fitted model's score on the validation, test and leak-free test sets
    and on ``proxies`` of a stratified ``proxy_sample`` of leak-free test images: the
    ``measured`` part of ``models/ood.json`` (``ood.write_gaussians``)."""
    test = np.flatnonzero(dataset.splits == 1)
    leakfree = leakfree_test_mask(dataset.hashes, dataset.splits)[test]
    sample = dataset.images[evaluation_rows(dataset, proxy_sample)]
    made = {}
    for i, (label, make) in enumerate(proxies(sample).items()):
        progress(0.1 * i / 8, f"Making {label}")
        made[label] = make()
    first = next(iter(fits.values()), None)
    models: dict[str, dict] = {}
    measured = {"train_images": first.train_images if first else 0,
                "validation_images": first.validation_images if first else 0,
                "test_images": int(len(test)), "leakfree_test_images": int(leakfree.sum()),
                "proxy_images": int(len(sample)), "note": NOTE, "models": models}
    for k, (name, fit) in enumerate(fits.items()):
        step = subrange(progress, 0.1 + 0.9 * k / len(fits), 0.1 + 0.9 * (k + 1) / len(fits))
        predictor = load_predictor(name, models_dir)
        step(0.0, f"{name}: test images")
        flagged = fit.gaussian.ratio(predictor.features(dataset.images[test])) > 1
        rates = {"validation": fit.validation_flag_rate, "test": _rate(flagged),
                 "leakfree_test": _rate(flagged[leakfree])}
        stand_ins = {}
        for j, (label, (infos, inputs)) in enumerate(made.items()):
            step(0.5 + 0.5 * j / len(made), f"{name}: {label}")
            learned = fit.gaussian.ratio(predictor.features(inputs)) > 1
            rules = (np.array([bool(ood.rule_reasons(info)) for info in infos])
                     if infos is not None else np.zeros(len(inputs), bool))
            stand_ins[label] = {"images": int(len(inputs)), "rules": _rate(rules),
                                "learned": _rate(learned), "either": _rate(rules | learned)}
        models[name] = {"flag_rates": rates, "stand_ins": stand_ins}
    progress(1.0, "Measured")
    return measured
