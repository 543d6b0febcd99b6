"""Pictures of a network's insides as uint8 RGB arrays: activation maps coloured and laid out
in grids, filters as colour tiles or signed weight maps, maps enlarged with nearest-neighbour
(every value stays one visible block)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.data.imageio import enlarge

__all__ = ["Grid", "colour", "enlarge_to", "filter_tiles", "grid", "kernel_grid", "map_grid",
           "signed_colour"]

TILE = 64  # the side a grid tile is enlarged to (at least; whole multiples of the map)
GAP = 3  # white pixels between tiles
COLUMNS = 8


def colour(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """A 2-D array coloured with viridis from ``low`` (dark purple) to ``high`` (yellow)."""
    span = high - low
    scaled = np.zeros(values.shape) if span <= 0 else (values - low) / span
    levels = (np.clip(scaled, 0, 1) * 255).round().astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(levels, cv2.COLORMAP_VIRIDIS), cv2.COLOR_BGR2RGB)


def signed_colour(values: np.ndarray, limit: float) -> np.ndarray:
    """A 2-D array of signed values coloured blue (``-limit``), white (0), red (``+limit``)."""
    t = np.clip(values / limit, -1, 1)[..., None] if limit > 0 else np.zeros((*values.shape, 1))
    white, red, blue = np.ones(3), np.array([0.84, 0.15, 0.16]), np.array([0.12, 0.47, 0.71])
    rgb = np.where(t >= 0, white + t * (red - white), white - t * (blue - white))
    return (rgb * 255).round().astype(np.uint8)


def enlarge_to(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` (2-D or RGB) enlarged by the largest whole factor that keeps it within
    ``side`` pixels (at least 1), nearest-neighbour."""
    return enlarge(image, max(1, side // max(image.shape[:2])))


@dataclass(frozen=True)
class Grid:
    """Maps laid out in a grid, as one image.

    Attributes
    ----------
    image : ndarray of shape (height, width, 3), uint8
    items : ndarray of int
        What each tile shows (a channel, a filter, an input channel), row by row.
    columns : int
    tile : int
        The side of one tile in pixels (tiles are ``GAP`` pixels apart).
    low, high : float or None
        The values of the colour scale's ends when the grid shares one scale.
    """

    image: np.ndarray
    items: np.ndarray
    columns: int
    tile: int
    low: float | None
    high: float | None

    def centre(self, position: int) -> tuple[float, float]:
        """``(x, y)`` of the centre of the ``position``-th tile, in image pixels."""
        row, col = divmod(position, self.columns)
        step = self.tile + GAP
        return col * step + self.tile / 2, row * step + self.tile / 2


def grid(tiles: np.ndarray, items, *, columns: int = COLUMNS, low: float | None = None,
         high: float | None = None, tile: int = TILE) -> Grid:
    """Equal-sized tiles, shape (n, h, w, 3) uint8, enlarged with nearest-neighbour to about
    ``tile`` pixels and laid out in rows of ``columns`` with white gaps."""
    n = len(tiles)
    columns = max(1, min(columns, n))
    tiles = np.stack([enlarge_to(t, tile) for t in tiles])
    side_h, side_w = tiles.shape[1:3]
    rows = -(-n // columns)
    image = np.full((rows * (side_h + GAP) - GAP, columns * (side_w + GAP) - GAP, 3), 255,
                    np.uint8)
    for i, t in enumerate(tiles):
        row, col = divmod(i, columns)
        top, left = row * (side_h + GAP), col * (side_w + GAP)
        image[top:top + side_h, left:left + side_w] = t
    return Grid(image, np.asarray(items, dtype=int), columns, int(side_h), low, high)


def map_grid(maps: np.ndarray, channels: np.ndarray, *, shared: bool = True,
             columns: int = COLUMNS, tile: int = TILE) -> Grid:
    """The ``channels`` of one image's block output (h, w, c) as a grid of viridis maps, on
    one colour scale for all of them (``shared``) or each on its own."""
    chosen = maps[..., channels]
    low, high = float(chosen.min()), float(chosen.max())
    tiles = np.stack([colour(chosen[..., i], *((low, high) if shared else
                                              (chosen[..., i].min(), chosen[..., i].max())))
                      for i in range(len(channels))])
    return grid(tiles, channels, columns=columns, tile=tile,
                low=low if shared else None, high=high if shared else None)


def filter_tiles(kernel: np.ndarray) -> np.ndarray:
    """First-layer filters (kh, kw, 3, n) as RGB tiles (n, kh, kw, 3): each filter scaled on
    its own so that mid-grey is a weight of 0 and its largest weight is full colour."""
    limit = np.abs(kernel).max(axis=(0, 1, 2), keepdims=True)
    scaled = 127.5 + 127.5 * kernel / np.where(limit > 0, limit, 1)
    return np.moveaxis(scaled.round().clip(0, 255).astype(np.uint8), -1, 0)


def kernel_grid(weights: np.ndarray, *, columns: int = 16, tile: int = 48) -> Grid:
    """One filter's weights per input channel, (kh, kw, c_in), as a grid of signed maps on one
    colour scale (blue negative, white 0, red positive)."""
    limit = float(np.abs(weights).max())
    tiles = np.stack([signed_colour(weights[..., c], limit) for c in range(weights.shape[-1])])
    return grid(tiles, np.arange(weights.shape[-1]), columns=columns, tile=tile,
                low=-limit, high=limit)
