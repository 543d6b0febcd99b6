"""Deterministic image degradations: the stability check of the prediction page and the
robustness battery.

Every function takes a uint8 RGB batch of shape (n, h, w, 3) and returns a new uint8 batch of
the same shape.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["STABILITY_CHECKS", "blur", "center_crop", "encode_jpeg", "gray_world", "jpeg", "mirror",
           "noise", "rescale", "shift"]


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """One uint8 RGB image as JPEG bytes of ``quality`` (1-100; standard IJG tables, 4:2:0)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    return cv2.imencode(".jpg", image[:, :, ::-1], params)[1].tobytes()


def jpeg(images: np.ndarray, quality: int) -> np.ndarray:
    """Re-encode every image as a JPEG of ``quality`` (1-100) and decode it again."""
    out = np.empty_like(images)
    for i, image in enumerate(images):
        buf = np.frombuffer(encode_jpeg(image, quality), np.uint8)
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        assert decoded is not None  # bytes just encoded by OpenCV itself
        out[i] = decoded[:, :, ::-1]
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


def mirror(images: np.ndarray) -> np.ndarray:
    """Flip every image left to right."""
    return images[:, :, ::-1].copy()


def shift(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Translate by ``dy`` rows and ``dx`` columns (positive: down and right), filling the
    uncovered border by reflection."""
    pad = ((0, 0), (max(dy, 0), max(-dy, 0)), (max(dx, 0), max(-dx, 0)), (0, 0))
    padded = np.pad(images, pad, mode="reflect")
    height, width = images.shape[1:3]
    top, left = max(-dy, 0), max(-dx, 0)
    return np.ascontiguousarray(padded[:, top:top + height, left:left + width])


# The stability check: label -> a change that is harmless at the models' 32x32 input (the models
# were trained with mirroring and translations, and CIFAKE is JPEG)
STABILITY_CHECKS = {
    "mirror": mirror,
    "JPEG q95": lambda x: jpeg(x, 95),
    "JPEG q90": lambda x: jpeg(x, 90),
    "1-px shift": lambda x: shift(x, 1, 1),
}
