"""Tiled analysis of a large image: a grid of regions, each resized to the model input and scored
by the ensemble."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.imageio import resize_square
from core.detect.detector import ENSEMBLE, Detector

__all__ = ["TileScores", "score_tiles", "tiles"]


def tiles(image: np.ndarray, size: int, grid: int) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Split an image into ``grid`` x ``grid`` regions, each resized to the model input.

    Returns the inputs, shape (grid * grid, size, size, 3), row by row, and each region's
    ``(top, left, bottom, right)`` box in the image.
    """
    height, width = image.shape[:2]
    rows = np.linspace(0, height, grid + 1).round().astype(int)
    cols = np.linspace(0, width, grid + 1).round().astype(int)
    boxes = [(rows[r], cols[c], rows[r + 1], cols[c + 1]) for r in range(grid) for c in range(grid)]
    inputs = np.stack([resize_square(image[top:bottom, left:right], size)
                       for top, left, bottom, right in boxes])
    return inputs, [tuple(int(v) for v in box) for box in boxes]


@dataclass(frozen=True)
class TileScores:
    """The ensemble's P(FAKE) of each region of a ``tiles`` grid, with the regions' boxes."""

    boxes: list[tuple[int, ...]]
    p_fake: np.ndarray
    threshold: float

    @property
    def n_fake(self) -> int:
        """How many regions the ensemble calls FAKE."""
        return int((self.p_fake >= self.threshold).sum())

    @property
    def mean(self) -> float:
        """The mean P(FAKE) over the regions."""
        return float(self.p_fake.mean())


def score_tiles(detector: Detector, image: np.ndarray, grid: int) -> TileScores:
    """Score each region of a ``grid`` x ``grid`` split of ``image`` with the ensemble."""
    inputs, boxes = tiles(image, detector.size, grid)
    return TileScores(boxes, detector.score(inputs)[ENSEMBLE], detector.threshold(ENSEMBLE))
