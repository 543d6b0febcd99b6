"""Training-time augmentation of uint8 image batches (numpy and OpenCV, so it runs the same
under any Keras backend).

Operations, each applied to a random half of the batch (crop: to every image):
- ``flip``: horizontal mirror;
- ``crop``: pad 4 pixels (reflect) and crop back at a random offset;
- ``shift8``: translate by -8, 0 or 8 pixels on each axis (reflect), which keeps the 8x8 JPEG
  block grid aligned;
- ``jpeg``: re-encode at a random JPEG quality in [30, 95];
- ``blur``: Gaussian blur with sigma in [0.3, 1.5];
- ``noise``: Gaussian noise with sigma in [1, 12] / 255;
- ``rescale``: shrink to 16-28 px and enlarge back (bilinear).
The last four teach robustness to re-saving, resizing and noise.
"""

from __future__ import annotations

import numpy as np

from core.data.perturb import blur, jpeg, rescale

__all__ = ["AUGMENTATIONS", "augment_batch"]

AUGMENTATIONS = ("flip", "crop", "shift8", "jpeg", "blur", "noise", "rescale")
_PAD = 4


def _random_crop(images: np.ndarray, pad: int, offsets: np.ndarray) -> np.ndarray:
    """Each image reflect-padded by ``pad`` and cropped back at its (dy, dx) in ``offsets``."""
    size = images.shape[1]
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
    return np.stack([padded[i, dy:dy + size, dx:dx + size]
                     for i, (dy, dx) in enumerate(offsets.T)])


def augment_batch(images: np.ndarray, ops: tuple[str, ...], rng: np.random.Generator) -> np.ndarray:
    """Augmented copy of a batch.

    Parameters
    ----------
    images : ndarray of shape (n, size, size, 3), dtype uint8
    ops : tuple of str
        Names from ``AUGMENTATIONS``, applied in that order.
    rng : numpy Generator
    """
    unknown = set(ops) - set(AUGMENTATIONS)
    if unknown:
        raise ValueError(f"unknown augmentation(s) {sorted(unknown)}; choose from {AUGMENTATIONS}")
    out = images.copy()
    n = len(out)
    half = lambda: np.flatnonzero(rng.random(n) < 0.5)  # noqa: E731
    if "flip" in ops:
        idx = half()
        out[idx] = out[idx, :, ::-1]
    if "crop" in ops:
        out = _random_crop(out, _PAD, rng.integers(0, 2 * _PAD + 1, size=(2, n)))
    if "shift8" in ops:
        out = _random_crop(out, 8, 8 * rng.integers(0, 3, size=(2, n)))
    if "jpeg" in ops:
        for i in half():
            out[i:i + 1] = jpeg(out[i:i + 1], int(rng.integers(30, 96)))
    if "blur" in ops:
        for i in half():
            out[i:i + 1] = blur(out[i:i + 1], float(rng.uniform(0.3, 1.5)))
    if "noise" in ops:
        idx = half()
        sigma = rng.uniform(1, 12, size=(len(idx), 1, 1, 1))
        noisy = out[idx] + rng.normal(0, 1, out[idx].shape) * sigma
        out[idx] = np.clip(noisy.round(), 0, 255).astype(np.uint8)
    if "rescale" in ops:
        for i in half():
            out[i:i + 1] = rescale(out[i:i + 1], int(rng.integers(16, 29)))
    return out
