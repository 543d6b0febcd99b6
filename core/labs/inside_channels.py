"""What each channel of a CNN responds to across the test set: every block's channel means on a
stratified sample of leak-free test images (cached on disk per model file and block), the
images that drive a channel most and least, and how well each channel alone separates REAL from
FAKE.

The cache lives in ``data/cache/inside/`` (``$CIFAKE_CACHE/inside``), git-ignored: one folder
per model sha256, dataset fingerprint and sample size, one array per block.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.dataset import CACHE_DIR, Dataset
from core.data.files import save_array_atomic
from core.data.imageio import resize_square
from core.labs.robustness import evaluation_rows
from core.progress import ProgressFn, silent

__all__ = ["N_SAMPLE", "N_EXTREMES", "ChannelStats", "Separation", "cached", "channel_stats",
           "extremes", "separation"]

N_SAMPLE = 5000  # stratified leak-free test images
N_EXTREMES = 16  # images shown for the top and for the bottom of a channel
SAMPLE_SEED = 0


@dataclass(frozen=True)
class ChannelStats:
    """One block's channel means on the sample.

    Attributes
    ----------
    block : str
    rows : ndarray of shape (n,)
        The dataset rows of the sample.
    labels : ndarray of shape (n,)
        0 REAL / 1 FAKE.
    means : ndarray of shape (n, channels), float32
        Each image's mean activation of each channel (a dense block's values as they are).
    """

    block: str
    rows: np.ndarray
    labels: np.ndarray
    means: np.ndarray


def _folder(sha: str, dataset: Dataset, n: int, cache_dir: str | os.PathLike) -> Path:
    return Path(cache_dir) / "inside" / f"{sha[:16]}-{dataset.fingerprint}-{n}"


def cached(sha: str, dataset: Dataset, block: str, *, n: int = N_SAMPLE,
           cache_dir: str | os.PathLike = CACHE_DIR) -> bool:
    """Whether the channel means of ``block`` of the model with file digest ``sha`` are on
    disk for this dataset and sample size."""
    folder = _folder(sha, dataset, n, cache_dir)
    return bool(sha) and (folder / "rows.npy").exists() and (folder / f"{block}.npy").exists()


def channel_stats(inside, sha: str, dataset: Dataset, block: str, *, n: int = N_SAMPLE,
                  cache_dir: str | os.PathLike | None = CACHE_DIR,
                  progress: ProgressFn = silent) -> ChannelStats:
    """``block``'s channel means on ``n`` stratified leak-free test images, read from the disk
    cache or computed (for every block at once, each then cached) with ``inside``
    (a ``core.detect.inside.Inside``) of the model whose file digest is ``sha``.

    Raises ValueError when the dataset has no leak-free test images of both labels.
    """
    inside.network.block(block)  # an unknown block is refused before any work
    folder: Path | None = None
    if cache_dir is not None and sha:
        folder = _folder(sha, dataset, n, cache_dir)
        if cached(sha, dataset, block, n=n, cache_dir=cache_dir):
            rows = np.load(folder / "rows.npy")
            return ChannelStats(block, rows, dataset.labels[rows],
                                np.load(folder / f"{block}.npy"))
    rows = evaluation_rows(dataset, limit=n, seed=SAMPLE_SEED)
    size = inside.input_shape[0]
    images = dataset.images[rows]
    if dataset.size != size:
        images = np.stack([resize_square(image, size) for image in images])
    means = inside.channel_means(images, progress=progress)
    progress(1.0, f"{len(rows):,} of {len(rows):,} images")
    if folder is not None:
        for name, values in means.items():
            save_array_atomic(folder / f"{name}.npy", values.astype(np.float32))
        save_array_atomic(folder / "rows.npy", rows.astype(np.int64))  # last: marks completion
    return ChannelStats(block, rows, dataset.labels[rows], means[block])


def extremes(values: np.ndarray, k: int = N_EXTREMES) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the ``k`` highest values (highest first) and the ``k`` lowest (lowest
    first); ties keep the earlier position first."""
    order = np.argsort(-values, kind="stable")
    low = np.argsort(values, kind="stable")
    return order[:k], low[:k]


@dataclass(frozen=True)
class Separation:
    """How each channel's mean activation differs between REAL and FAKE images.

    Attributes
    ----------
    mean_real, mean_fake : ndarray of shape (channels,)
    auroc : ndarray of shape (channels,)
        The chance that a random FAKE image activates the channel more than a random REAL
        one (0.5: the channel does not tell them apart; 0 or 1: it tells them apart alone).
    ranked : ndarray of int
        Channels by how far their AUROC is from 0.5, most separating first.
    """

    mean_real: np.ndarray
    mean_fake: np.ndarray
    auroc: np.ndarray
    ranked: np.ndarray

    def leans(self, channel: int) -> str:
        """"FAKE" when the channel fires more on FAKE images, else "REAL"."""
        return "FAKE" if self.auroc[channel] >= 0.5 else "REAL"

    @property
    def best(self) -> float:
        """The AUROC of the best single channel, read in its better direction (0.5 to 1)."""
        return float(np.max(np.maximum(self.auroc, 1 - self.auroc)))


def separation(means: np.ndarray, labels: np.ndarray) -> Separation:
    """Per channel: mean activation on REAL and on FAKE images and the AUROC of the channel
    alone as a FAKE score (Mann-Whitney, ties counted half)."""
    from scipy.stats import rankdata

    fake = np.asarray(labels) == 1
    n_fake, n_real = int(fake.sum()), int((~fake).sum())
    if not n_fake or not n_real:
        raise ValueError("separating REAL from FAKE needs images of both labels")
    ranks = rankdata(means, axis=0)
    auroc = (ranks[fake].sum(axis=0) - n_fake * (n_fake + 1) / 2) / (n_fake * n_real)
    ranked = np.argsort(-np.abs(auroc - 0.5), kind="stable")
    return Separation(means[~fake].mean(axis=0), means[fake].mean(axis=0), auroc, ranked)
