"""Test-time augmentation (TTA): a model's P(FAKE) averaged over harmless copies of the image,
the changes it was trained with (``core.models.augment``).

A view is ``(mirror, dy, dx)``: the image, mirrored left-right when ``mirror``, then moved by
``dy`` rows and ``dx`` columns within a reflect-padded border (as the ``crop`` augmentation
moves it). A candidate is a set of views whose raw P(FAKE) are averaged; which candidate a model
uses, and the calibration and threshold of its averaged score, are chosen on validation images
(``core.models.evaluate_tta``) and stored in the ``tta`` section of its report.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["IDENTITY", "MIRROR", "View", "apply_view", "candidates", "describe", "stack_views"]

View = tuple[bool, int, int]
IDENTITY: View = (False, 0, 0)
MIRROR: View = (True, 0, 0)
SHIFTS = (1, 2)  # pixels, along the diagonal both ways (mirrored copies cover the other diagonal)


def apply_view(images: np.ndarray, view: Sequence) -> np.ndarray:
    """``images`` (n, h, w, c) seen through ``view``: mirrored, then shifted with reflect
    padding. The identity returns ``images`` itself."""
    mirror, dy, dx = bool(view[0]), int(view[1]), int(view[2])
    out = images[:, :, ::-1] if mirror else images
    if dy or dx:
        pad = max(abs(dy), abs(dx))
        height, width = images.shape[1:3]
        padded = np.pad(out, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
        out = padded[:, pad + dy:pad + dy + height, pad + dx:pad + dx + width]
    return out


def stack_views(images: np.ndarray, views: Sequence[Sequence]) -> np.ndarray:
    """Every view of ``images`` in one batch, view by view: shape (len(views) * n, h, w, c)."""
    if len(views) == 1 and tuple(views[0]) == IDENTITY:
        return images
    return np.concatenate([apply_view(images, v) for v in views])


def candidates(augment: Sequence[str]) -> dict[str, tuple[View, ...]]:
    """The TTA candidates for a model trained with augmentations ``augment``: ``none``, and
    the mirror (when trained with ``flip``) and 1- and 2-pixel shifts (with ``crop``), alone
    and combined. Names are ``mirror``, ``shift1``, ``mirror+shift1+2``..."""
    mirrors = [False, True] if "flip" in augment else [False]
    shift_sets = [(), *[(s,) for s in SHIFTS], SHIFTS] if "crop" in augment else [()]
    out = {}
    for mirror in mirrors:
        for shifts in shift_sets:
            bases = [IDENTITY, MIRROR] if mirror else [IDENTITY]
            views = [*bases, *[(m, d * s, d * s) for s in shifts for m, _, _ in bases
                               for d in (1, -1)]]
            parts = (["mirror"] if mirror else []) + (
                ["shift" + "+".join(map(str, shifts))] if shifts else [])
            out["+".join(parts) or "none"] = tuple(views)
    return out


def describe(views: Sequence[Sequence]) -> str:
    """The views in words: "the image and its mirror", "the image, its mirror and 1-pixel
    shifts of both"..."""
    views = [tuple(v) for v in views]
    mirror = MIRROR in views
    shifts = sorted({abs(v[1]) for v in views if v[1] or v[2]})
    if not shifts:
        return "the image and its mirror" if mirror else "the image alone"
    pixels = " and ".join(f"{s}" for s in shifts).replace(" and ", "- and ") + "-pixel"
    return (f"the image, its mirror and {pixels} shifts of both" if mirror
            else f"the image and its {pixels} shifts")
