"""Deterministic image degradations: the stability check of the prediction page and the
robustness battery.

Every function takes a uint8 RGB batch of shape (n, h, w, 3) and returns a new uint8 batch of
the same shape.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["STABILITY_CHECKS", "blur", "center_crop", "gray_world", "jpeg", "noise", "rescale"]


def jpeg(images: np.ndarray, quality: int) -> np.ndarray:
    """Re-encode every image as a JPEG of ``quality`` (1-100) and decode it again."""
    out = np.empty_like(images)
    for i, image in enumerate(images):
        ok, buf = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        out[i] = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
    return out


def rescale(images: np.ndarray, side: int) -> np.ndarray:
    """Shrink to ``side`` x ``side`` pixels (area) and enlarge back (bilinear)."""
    height, width = images.shape[1:3]
    out = np.empty_like(images)
    for i, image in enumerate(images):
        small = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
        out[i] = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    return out


def blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` pixels."""
    if sigma <= 0:
        return images.copy()
    return np.stack([cv2.GaussianBlur(image, (0, 0), float(sigma)) for image in images])


def noise(images: np.ndarray, sigma: float, *, seed: int = 0) -> np.ndarray:
    """Add Gaussian noise of standard deviation ``sigma`` (in 0-255 units), seeded."""
    rng = np.random.default_rng(seed)
    noisy = images + rng.normal(0.0, sigma, images.shape)
    return np.clip(noisy.round(), 0, 255).astype(np.uint8)


def center_crop(images: np.ndarray, fraction: float) -> np.ndarray:
    """Keep the central ``fraction`` of each side and resize back (bilinear)."""
    height, width = images.shape[1:3]
    h, w = max(1, round(height * fraction)), max(1, round(width * fraction))
    top, left = (height - h) // 2, (width - w) // 2
    return np.stack([cv2.resize(image[top:top + h, left:left + w], (width, height),
                                interpolation=cv2.INTER_LINEAR) for image in images])


def gray_world(images: np.ndarray) -> np.ndarray:
    """Gray World white balance: scale each channel so that its mean equals the image's mean
    grey level (removes colour casts, keeps brightness)."""
    x = images.astype(np.float64)
    means = x.mean(axis=(1, 2), keepdims=True)
    gain = means.mean(axis=3, keepdims=True) / np.maximum(means, 1e-6)
    return np.clip((x * gain).round(), 0, 255).astype(np.uint8)


# The prediction page's stability check: label -> degradation of a batch
STABILITY_CHECKS = {
    "JPEG q90": lambda x: jpeg(x, 90),
    "JPEG q70": lambda x: jpeg(x, 70),
    "JPEG q50": lambda x: jpeg(x, 50),
    "0.5x down and up": lambda x: rescale(x, max(1, x.shape[1] // 2)),
    "slight blur (σ 0.5)": lambda x: blur(x, 0.5),
}
