"""Training-time augmentation of uint8 batches."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import random_image

from core.models.augment import AUGMENTATIONS, augment_batch

PAD = 4


@pytest.fixture(scope="module")
def batch() -> np.ndarray:
    return np.stack([random_image(i) for i in range(16)])


def rng(seed=0):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("ops", [(op,) for op in AUGMENTATIONS] + [AUGMENTATIONS])
def test_shape_dtype_and_input_untouched(batch, ops):
    before = batch.copy()
    out = augment_batch(batch, ops, rng())
    assert out.shape == batch.shape and out.dtype == np.uint8
    assert out is not batch
    np.testing.assert_array_equal(batch, before)


def test_unknown_op(batch):
    with pytest.raises(ValueError, match=r"unknown augmentation\(s\) \['rotate'\]"):
        augment_batch(batch, ("flip", "rotate"), rng())


def test_no_ops_is_identity(batch):
    out = augment_batch(batch, (), rng())
    np.testing.assert_array_equal(out, batch)
    assert not np.shares_memory(out, batch)


def test_flip_only_mirrors(batch):
    out = augment_batch(batch, ("flip",), rng(3))
    flipped = 0
    for original, image in zip(batch, out):
        if np.array_equal(image, original):
            continue
        np.testing.assert_array_equal(image, original[:, ::-1])
        flipped += 1
    assert 0 < flipped < len(batch)  # a random share, not none or all (16 images, seed 3)


def test_crop_is_shifted_window_of_reflect_padded_input(batch):
    out = augment_batch(batch, ("crop",), rng(1))
    size = batch.shape[1]
    offsets = []
    for original, image in zip(batch, out):
        padded = np.pad(original, ((PAD, PAD), (PAD, PAD), (0, 0)), mode="reflect")
        matches = [(dy, dx) for dy in range(2 * PAD + 1) for dx in range(2 * PAD + 1)
                   if np.array_equal(padded[dy:dy + size, dx:dx + size], image)]
        assert matches, "output is not a window of the padded image"
        offsets.append(matches[0])
    assert len(set(offsets)) > 1  # offsets vary across the batch


def test_shift8_keeps_the_jpeg_grid(batch):
    """shift8 moves each image by -8, 0 or 8 pixels per axis: a window of the 8-px reflect-padded
    image at an offset that is a multiple of 8, so 8x8 JPEG blocks stay aligned."""
    out = augment_batch(batch, ("shift8",), rng(4))
    size = batch.shape[1]
    offsets = []
    for original, image in zip(batch, out):
        padded = np.pad(original, ((8, 8), (8, 8), (0, 0)), mode="reflect")
        matches = [(dy, dx) for dy in range(17) for dx in range(17)
                   if np.array_equal(padded[dy:dy + size, dx:dx + size], image)]
        assert matches and all(dy % 8 == 0 and dx % 8 == 0 for dy, dx in matches[:1])
        offsets.append(matches[0])
    assert len(set(offsets)) > 1


def test_jpeg_changes_pixels_modestly(batch):
    out = augment_batch(batch, ("jpeg",), rng(0))
    diff = np.abs(out.astype(int) - batch.astype(int)).mean(axis=(1, 2, 3))
    changed = diff > 0
    assert 0 < changed.sum() < len(batch)  # about half the batch re-encoded
    assert diff[changed].max() < 15  # a re-encoding, not a different image
    assert (diff[~changed] == 0).all()


def test_noise_scale():
    gray = np.full((32, 32, 32, 3), 128, np.uint8)  # mid-grey: no clipping
    out = augment_batch(gray, ("noise",), rng(2))
    diff = np.abs(out.astype(int) - 128).mean(axis=(1, 2, 3))
    noisy = diff > 0
    assert 0 < noisy.sum() < len(gray)
    # sigma in [1, 12]: mean |noise| = sigma * sqrt(2 / pi), in [0.8, 9.6]
    assert (diff[noisy] > 0.3).all() and (diff[noisy] < 20).all()
    assert abs(float(out[noisy].astype(float).mean()) - 128) < 1  # zero-mean noise


@pytest.mark.parametrize("op", ["blur", "rescale"])
def test_smoothing_ops_lower_high_frequencies(batch, op):
    out = augment_batch(batch, (op,), rng(0))

    def roughness(images):
        return np.abs(np.diff(images.astype(int), axis=2)).mean(axis=(1, 2, 3))

    changed = np.any(out != batch, axis=(1, 2, 3))
    assert changed.any()
    assert (roughness(out[changed]) < roughness(batch[changed])).all()


def test_seeded_rng_is_deterministic(batch):
    a = augment_batch(batch, AUGMENTATIONS, rng(7))
    b = augment_batch(batch, AUGMENTATIONS, rng(7))
    np.testing.assert_array_equal(a, b)
    c = augment_batch(batch, AUGMENTATIONS, rng(8))
    assert not np.array_equal(a, c)
