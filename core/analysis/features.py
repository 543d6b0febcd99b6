"""Per-image engineered features: blur, background defects, brightness, colour, high frequencies.

Every feature is computed on the image as stored (uint8 RGB, any square size) and documented in
``FEATURES`` in plain words, because the app shows those words next to the charts.
"""

from __future__ import annotations

import cv2
import numpy as np
import scipy.fft

from core.progress import ProgressFn, silent

__all__ = ["FEATURES", "feature_table", "flatten", "gray", "laplacian_variance",
           "background_residual"]

FEATURES: dict[str, str] = {
    "laplacian_var": (
        "Blur level: variance of the Laplacian (a sharpness detector) of the grey image. "
        "Low = smooth or blurry, high = sharp edges and fine texture."
    ),
    "background_residual": (
        "Background defects: RMS of the fine-detail residual (grey image minus its 3x3 median) "
        "over the least salient half of the pixels, i.e. the background. Salience is each "
        "pixel's colour distance from the image's mean colour after a light blur "
        "(frequency-tuned salience, Achanta et al. 2009). High = noisy or textured background."
    ),
    "brightness": "Mean grey level (0 = black, 255 = white).",
    "contrast": "Standard deviation of the grey levels: how far pixels spread from the mean.",
    "saturation": "Mean HSV saturation (0 = grey, 1 = pure colour).",
    "mean_r": "Mean red value (0-255).",
    "mean_g": "Mean green value (0-255).",
    "mean_b": "Mean blue value (0-255).",
    "hf_ratio": (
        "High-frequency share: fraction of the image's spectral power (mean removed) above half "
        "the Nyquist frequency. High = much fine detail."
    ),
}

_CHUNK = 4096


def flatten(images: np.ndarray) -> np.ndarray:
    """Pixels as a float32 matrix in 0-1, shape (n, size * size * 3): the raw-pixel input of
    the classical models and of the embedding map's pixel space."""
    return images.reshape(len(images), -1).astype(np.float32) / 255


def gray(images: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of RGB images, float32, shape (n, h, w)."""
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return images.astype(np.float32) @ weights


def laplacian_variance(gray_images: np.ndarray) -> np.ndarray:
    """Variance of the 4-neighbour Laplacian per image (OpenCV's ``Laplacian`` with ``ksize=1``
    and its default reflect-101 border), shape (n,)."""
    lap = _per_image(gray_images, lambda x: cv2.Laplacian(x, cv2.CV_32F, ksize=1))
    return lap.var(axis=(1, 2))


def background_residual(images: np.ndarray) -> np.ndarray:
    """RMS of the grey-minus-median residual over each image's least salient half, shape (n,)."""
    g = gray(images)
    g8 = np.clip(g.round(), 0, 255).astype(np.uint8)
    residual = g - _per_image(g8, lambda x: cv2.medianBlur(x, 3))
    lab = cv2.cvtColor(images.reshape(-1, images.shape[2], 3), cv2.COLOR_RGB2Lab)
    lab = lab.reshape(images.shape).astype(np.float32)
    blurred = _per_image(lab, lambda x: cv2.GaussianBlur(x, (3, 3), 0))
    salience = np.linalg.norm(blurred - blurred.mean(axis=(1, 2), keepdims=True), axis=3)
    background = salience <= np.median(salience, axis=(1, 2), keepdims=True)
    energy = (residual**2 * background).sum(axis=(1, 2)) / background.sum(axis=(1, 2))
    return np.sqrt(energy)


def feature_table(images: np.ndarray, *, progress: ProgressFn = silent) -> np.ndarray:
    """All ``FEATURES`` for every image.

    Parameters
    ----------
    images : ndarray of shape (n, size, size, 3), dtype uint8

    Returns
    -------
    table : ndarray of shape (n, len(FEATURES)), dtype float32
        Columns in the order of ``FEATURES``.
    """
    n = len(images)
    table = np.empty((n, len(FEATURES)), dtype=np.float32)
    for start in range(0, n, _CHUNK):
        progress(start / max(n, 1), f"Computing image features {start:,} / {n:,}")
        batch = images[start : start + _CHUNK]
        g = gray(batch)
        hsv = cv2.cvtColor(batch.reshape(-1, batch.shape[2], 3), cv2.COLOR_RGB2HSV)
        saturation = hsv.reshape(batch.shape)[..., 1].mean(axis=(1, 2)) / 255
        rgb_means = batch.mean(axis=(1, 2))
        table[start : start + _CHUNK] = np.column_stack([
            laplacian_variance(g),
            background_residual(batch),
            g.mean(axis=(1, 2)),
            g.std(axis=(1, 2)),
            saturation,
            rgb_means,
            _hf_ratio(g),
        ])
    progress(1.0, "Image features done")
    return table


def _per_image(x: np.ndarray, filter_3x3) -> np.ndarray:
    """Apply a 3x3 OpenCV filter to each image of a stack in one call: every image gets a
    1-pixel reflect-101 border, the padded images are stacked vertically, filtered, and
    cropped back, so no image sees its neighbour's pixels."""
    p = np.pad(x, [(0, 0), (1, 1), (1, 1)] + [(0, 0)] * (x.ndim - 3), mode="reflect")
    n, h, w = p.shape[:3]
    out = filter_3x3(np.ascontiguousarray(p.reshape(n * h, w, *p.shape[3:])))
    return out.reshape(p.shape)[:, 1:-1, 1:-1].astype(np.float32)


def _hf_ratio(g: np.ndarray) -> np.ndarray:
    h, w = g.shape[1:]
    power = np.abs(scipy.fft.fft2(g - g.mean(axis=(1, 2), keepdims=True), workers=-1)) ** 2
    fy, fx = np.meshgrid(scipy.fft.fftfreq(h), scipy.fft.fftfreq(w), indexing="ij")
    high = np.hypot(fy, fx) > 0.25  # half of Nyquist (0.5 cycles/pixel)
    total = power.sum(axis=(1, 2))
    return np.where(total > 0, (power * high).sum(axis=(1, 2)) / np.maximum(total, 1e-12), 0.0)
