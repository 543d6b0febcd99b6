"""The sources of fake images a detector can learn from or be tested on, and the REAL images
they are set against.

``sd14`` is CIFAKE's own FAKE (Stable Diffusion 1.4); ``gan`` and ``vae`` are the project's
generators (``core.models.generators``). Every source has the same three parts as CIFAKE:
``train`` and ``val`` (the seeded split of the train split, ``train_val_rows``) and ``test`` (the
leak-free test set). A generator's part is made once per generator file (sha256), size and part
and kept in the dataset cache (``data/cache/generated/``), so its pixels never enter git.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.dataset import CACHE_DIR, Dataset, train_val_rows
from core.data.files import save_array_atomic
from core.data.quality import leakfree_test_mask
from core.data.sources import LABELS
from core.models.generators import GENERATORS_DIR, load_generator
from core.progress import ProgressFn, silent

__all__ = ["PARTS", "SOURCES", "Source", "real_images", "source_images"]

PARTS = ("train", "val", "test")
_PART_SEED = {"train": 0, "val": 1, "test": 2}  # a generator's sampling seed per part


@dataclass(frozen=True)
class Source:
    """A source of fake images: its name, its generator family and a plain title."""

    name: str
    family: str
    title: str


SOURCES = {
    "sd14": Source("sd14", "diffusion", "Stable Diffusion 1.4 (CIFAKE's FAKE)"),
    "gan": Source("gan", "GAN", "DCGAN trained here on CIFAKE REAL"),
    "vae": Source("vae", "autoencoder", "VAE reconstructions of CIFAKE REAL"),
}


def _rows(dataset: Dataset, part: str, label: str, seed: int, split: dict) -> np.ndarray:
    """Rows of ``label`` images in ``part`` of the training split ``split`` (the keywords of
    ``train_val_rows``), in a fixed shuffled order."""
    if part == "test":
        rows = np.flatnonzero(leakfree_test_mask(dataset.hashes, dataset.splits))
    else:
        rows = train_val_rows(dataset, seed=seed, **split)[PARTS.index(part)]
    rows = rows[dataset.labels[rows] == LABELS.index(label)]
    return rows[np.random.default_rng(seed).permutation(len(rows))]


def real_images(dataset: Dataset, part: str, n: int, *, seed: int = 0,
                val_fraction: float = 0.1, limit: int | None = None) -> np.ndarray:
    """``n`` REAL images of ``part`` (fewer when the part has fewer) of the training split
    that ``train_val_rows`` makes with ``seed``, ``val_fraction`` and ``limit``."""
    split = {"val_fraction": val_fraction, "limit": limit}
    return dataset.images[_rows(dataset, part, "REAL", seed, split)[:n]]


def source_images(source: str, dataset: Dataset, part: str, n: int, *, seed: int = 0,
                  val_fraction: float = 0.1, limit: int | None = None,
                  generators_dir: str | os.PathLike = GENERATORS_DIR,
                  cache_dir: str | os.PathLike | None = CACHE_DIR,
                  progress: ProgressFn = silent) -> np.ndarray:
    """``n`` fake images of ``source`` for ``part``: CIFAKE FAKE images for ``sd14``; a GAN's
    samples (seeded per part); a VAE's reconstructions of ``part``'s REAL images (the ones
    ``real_images`` gives, so the fakes share their content). ``seed``, ``val_fraction`` and
    ``limit`` pick the training split, as in ``train_val_rows``."""
    if source not in SOURCES:
        raise ValueError(f"unknown fake source {source!r}; choose from {list(SOURCES)}")
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; choose from {PARTS}")
    split = {"val_fraction": val_fraction, "limit": limit}
    if source == "sd14":
        return dataset.images[_rows(dataset, part, "FAKE", seed, split)[:n]]
    generator = load_generator(source, generators_dir)
    to_rebuild = real_images(dataset, part, n, seed=seed, val_fraction=val_fraction,
                             limit=limit) if generator.kind == "vae" else None
    n = n if to_rebuild is None else len(to_rebuild)
    path = None
    if cache_dir is not None:
        key = f"{source}-{generator.sha256[:12]}-{part}-{n}-{seed}"
        if to_rebuild is not None:
            key += f"-{dataset.fingerprint[:12]}"
            if split != {"val_fraction": 0.1, "limit": None}:
                key += f"-v{val_fraction:g}-l{limit}"
        path = Path(cache_dir) / "generated" / f"{key}.npy"
        if path.exists():
            return np.load(path, allow_pickle=False)
    images = generator.sample(n, _PART_SEED[part] + 10 * seed, images=to_rebuild,
                              progress=progress)
    if path is not None:
        save_array_atomic(path, images)
    return images
