"""Decode a dataset source into uint8 arrays, cached on disk so later loads take about a second."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.imageio import decode_image, resize_square
from core.data.sources import (
    CLASS_NAMES,
    LABELS,
    REPO_ROOT,
    SPLITS,
    Listing,
    Rows,
    scan_source,
    source_identity,
    stratified_split,
)
from core.errors import DataError, ImageError
from core.progress import ProgressFn, silent

__all__ = ["DEFAULT_SIZE", "CACHE_DIR", "Dataset", "decode_rows", "load_dataset", "train_val_rows"]

DEFAULT_SIZE = 32
CACHE_DIR = Path(os.environ.get("CIFAKE_CACHE", REPO_ROOT / "data" / "cache"))
_CACHE_VERSION = "1"
MAX_ARRAY_BYTES = 3 * 2**30  # refuse sizes whose decoded arrays would not fit comfortably in memory


@dataclass(frozen=True)
class Dataset(Rows):
    """Decoded images and their metadata, row-aligned.

    Attributes
    ----------
    images : ndarray of shape (n, size, size, 3), dtype uint8
    labels, splits, classes : ndarray of shape (n,), dtype int8
        0 REAL / 1 FAKE; 0 train / 1 test; 0 unknown / 1..10 CIFAR class.
    paths : ndarray of shape (n,), dtype str
        Path of each image inside the source.
    hashes : ndarray of shape (n,), dtype 'S16'
        BLAKE2b-128 digest of each file's bytes (the content hash).
    source : str
        The zip or folder the images came from.
    skipped : list of (path, reason)
        Files below REAL/ or FAKE/ that could not be decoded.
    split_given : bool
        Whether the source named train/test or the seeded split made them.
    """

    images: np.ndarray
    labels: np.ndarray
    splits: np.ndarray
    classes: np.ndarray
    paths: np.ndarray
    hashes: np.ndarray
    source: str
    skipped: list[tuple[str, str]]
    split_given: bool

    @property
    def size(self) -> int:
        return self.images.shape[1]

    @property
    def fingerprint(self) -> str:
        """Identity of the content (hashes, labels, splits, size), independent of where it lives."""
        digest = hashlib.blake2b(digest_size=8)
        for array in (self.hashes, self.labels, self.splits):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(str(self.size).encode())
        return digest.hexdigest()

    def subset(self, rows: np.ndarray) -> Dataset:
        """A dataset of the given rows only (in the given order), from the same source."""
        return dataclasses.replace(
            self, images=self.images[rows], labels=self.labels[rows], splits=self.splits[rows],
            classes=self.classes[rows], paths=self.paths[rows], hashes=self.hashes[rows])

    def counts(self) -> dict[str, dict[str, int]]:
        """Images per split and label: ``{"train": {"REAL": n, "FAKE": n}, "test": {...}}``."""
        return {
            split: {
                label: int(((self.splits == s) & (self.labels == lab)).sum())
                for lab, label in enumerate(LABELS)
            }
            for s, split in enumerate(SPLITS)
        }

    def class_counts(self) -> dict[str, dict[str, dict[str, int]]]:
        """Images per split, label and class name (classes with no image left out)."""
        out: dict[str, dict[str, dict[str, int]]] = {}
        for s, split in enumerate(SPLITS):
            out[split] = {}
            for lab, label in enumerate(LABELS):
                mask = (self.splits == s) & (self.labels == lab)
                per_class = np.bincount(self.classes[mask], minlength=len(CLASS_NAMES))
                out[split][label] = {
                    CLASS_NAMES[c]: int(n) for c, n in enumerate(per_class) if n
                }
        return out


def train_val_rows(dataset: Dataset, *, val_fraction: float = 0.1, seed: int = 0,
                   limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the training and validation images: a seeded split of the train split
    stratified by label and class; ``limit`` keeps a stratified subset of both."""
    rows = np.flatnonzero(dataset.splits == 0)
    if limit is not None and limit < len(rows):
        keep = stratified_split(dataset.labels[rows], dataset.classes[rows],
                                limit / len(rows), seed=seed + 1)
        rows = rows[keep]
    is_val = stratified_split(dataset.labels[rows], dataset.classes[rows], val_fraction, seed=seed)
    if is_val.all() or not is_val.any():
        raise ValueError(f"{len(rows):,} training images cannot be split into training and "
                         f"validation sets ({val_fraction:.0%} of each label and class); "
                         "use more training images (a larger --limit)")
    return rows[~is_val], rows[is_val]


def load_dataset(
    path: str | os.PathLike,
    *,
    size: int = DEFAULT_SIZE,
    cache_dir: str | os.PathLike | None = CACHE_DIR,
    progress: ProgressFn = silent,
) -> Dataset:
    """Load every labelled image of a zip or folder, resized to ``size`` x ``size``.

    Parameters
    ----------
    path : path-like
        A CIFAKE zip, an extracted folder, or any folder with REAL/ and FAKE/ sub-folders.
    size : int
        Side of the square arrays (images of other sizes are resized, see ``resize_square``).
    cache_dir : path-like or None
        Where decoded arrays are kept, keyed by the source's identity and ``size``;
        None disables the cache.
    progress : callable(fraction, message)
        Receives decoding progress.

    Raises
    ------
    DataError
        If the source is missing, unreadable, or holds no decodable REAL and FAKE images.
    """
    if not 8 <= size <= 512:
        raise DataError(f"size must be between 8 and 512 pixels (got {size}).")
    source = Path(path).expanduser().resolve()
    if not source.exists():
        raise DataError(f"No file or folder at {source}.")
    entry = None
    if cache_dir is not None:
        entry = Path(cache_dir) / f"{source_identity(source)}-{size}-v{_CACHE_VERSION}"
        if (entry / "index.npz").exists():
            progress(0.5, "Reading the decoded-array cache")
            dataset = _read_cache(entry, source)
            progress(1.0, "Loaded from cache")
            return dataset
    progress(0.0, "Listing files")
    dataset = _decode(scan_source(source), size, progress)
    if entry is not None:
        _write_cache(entry, dataset)
    progress(1.0, "Decoded")
    return dataset


def decode_rows(listing: Listing, rows, size: int = DEFAULT_SIZE) -> np.ndarray:
    """The images of the given listing rows only, resized to ``size`` x ``size`` (an unreadable
    file gives a grey square): what a page needs to show a few images before, or without,
    decoding the whole source."""
    images = np.full((len(rows), size, size, 3), 128, dtype=np.uint8)
    for i, (_, data) in enumerate(listing.read_rows(rows)):
        try:
            if isinstance(data, OSError):
                raise ImageError(str(data))
            images[i] = resize_square(decode_image(data), size)
        except ImageError:
            continue
    return images


def _decode(listing: Listing, size: int, progress: ProgressFn) -> Dataset:
    n = len(listing.members)
    needed = n * size * size * 3
    if needed > MAX_ARRAY_BYTES:
        raise DataError(
            f"{n:,} images at {size}x{size} need {needed / 2**30:.1f} GiB of memory "
            f"(limit {MAX_ARRAY_BYTES / 2**30:.0f} GiB): choose a smaller image size."
        )
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    hashes = np.empty(n, dtype="S16")
    keep = np.zeros(n, dtype=bool)
    skipped: list[tuple[str, str]] = []
    step = max(1, n // 200)
    for i, (member, data) in enumerate(listing.read()):
        if i % step == 0:
            progress(i / n, f"Decoding {i:,} / {n:,} images")
        try:
            if isinstance(data, OSError):
                raise ImageError(str(data))
            images[i] = resize_square(decode_image(data), size)
        except ImageError as exc:
            skipped.append((member, str(exc)))
            continue
        hashes[i] = hashlib.blake2b(data, digest_size=16).digest()
        keep[i] = True
    if not keep.any():
        raise DataError(f"None of the {n:,} files in {listing.source} could be decoded as images.")
    labels = listing.labels[keep]
    missing = [LABELS[i] for i in (0, 1) if not (labels == i).any()]
    if missing:
        raise DataError(f"No decodable {missing[0]} image in {listing.source}.")
    return Dataset(
        images=images[keep] if not keep.all() else images,
        labels=labels,
        splits=listing.splits[keep],
        classes=listing.classes[keep],
        paths=np.array(listing.members)[keep],
        hashes=hashes[keep],
        source=str(listing.source),
        skipped=skipped,
        split_given=listing.split_given,
    )


def _write_cache(entry: Path, dataset: Dataset) -> None:
    """Write the cache into a temporary folder, then rename it into place (never half-written)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=entry.parent, prefix=".tmp-"))
    try:
        np.save(tmp / "images.npy", dataset.images)
        np.savez(
            tmp / "index.npz",
            labels=dataset.labels, splits=dataset.splits, classes=dataset.classes,
            paths=dataset.paths, hashes=dataset.hashes,
        )
        meta = {"skipped": dataset.skipped, "split_given": dataset.split_given}
        (tmp / "meta.json").write_text(json.dumps(meta))
        os.replace(tmp, entry)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # a read-only or full disk only costs the cache


def _read_cache(entry: Path, source: Path) -> Dataset:
    index = np.load(entry / "index.npz")
    meta = json.loads((entry / "meta.json").read_text())
    return Dataset(
        images=np.load(entry / "images.npy"),
        labels=index["labels"],
        splits=index["splits"],
        classes=index["classes"],
        paths=index["paths"],
        hashes=index["hashes"],
        source=str(source),
        skipped=[tuple(s) for s in meta["skipped"]],
        split_given=meta["split_given"],
    )
