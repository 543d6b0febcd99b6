"""Derived results of a dataset, cached on disk, and the committed summary of the real CIFAKE.

``write_summary`` (``python -m core stats``) writes ``data/summary/stats.json`` and
``data/summary/embedding.json``: numbers only, so the app can show full-dataset statistics and
embedding coordinates to users who have not downloaded CIFAKE, and at once to users whose data
is the same CIFAKE (``meta.listing_fingerprint``: known from the file listing, before decoding).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from core.analysis.embed import (
    METHODS,
    SPACES,
    Embedding,
    Space,
    compute_embedding,
    embed,
    space_matrix,
)
from core.analysis.features import FEATURES, feature_table
from core.analysis.stats import DatasetStats, compute_stats
from core.data.dataset import CACHE_DIR, Dataset
from core.data.files import save_array_atomic, write_atomic
from core.data.sources import SUMMARY_DIR, listing_fingerprint, scan_source
from core.errors import DataError
from core.progress import ProgressFn, silent, subrange

__all__ = [
    "EMBEDDING_SAMPLE",
    "add_embeddings",
    "dataset_embedding",
    "dataset_features",
    "dataset_stats",
    "read_committed_stats",
    "read_committed_embedding",
    "write_summary",
]

EMBEDDING_SAMPLE = 2000
_VERSION = "1"
_STATS_FILE = "stats-v2.json"  # v2: duplicates has leak_examples (features stay valid)


def dataset_features(
    dataset: Dataset, *, cache_dir: str | os.PathLike | None = CACHE_DIR,
    progress: ProgressFn = silent,
) -> np.ndarray:
    """``feature_table(dataset.images)``, read from or saved to the disk cache."""
    path = _cache_path(cache_dir, dataset, "features.npy")
    if path is not None and path.exists():
        return np.load(path, allow_pickle=False)
    features = feature_table(dataset.images, progress=progress)
    if path is not None:
        _try_cache(lambda: save_array_atomic(path, features))
    return features


def dataset_stats(
    dataset: Dataset, features: np.ndarray, *, cache_dir: str | os.PathLike | None = CACHE_DIR,
    progress: ProgressFn = silent,
) -> DatasetStats:
    """``compute_stats(dataset, features)``, read from or saved to the disk cache."""
    path = _cache_path(cache_dir, dataset, _STATS_FILE)
    if path is not None and path.exists():
        return DatasetStats.from_json(path.read_text())
    stats = compute_stats(dataset, features, progress=progress)
    if path is not None:
        _try_cache(lambda: write_atomic(path, stats.to_json()))
    return stats


def dataset_embedding(
    dataset: Dataset, features: np.ndarray, *, space: str, method: str, n: int, seed: int = 0,
    spaces: Mapping[str, Space] = SPACES, cache_dir: str | os.PathLike | None = CACHE_DIR,
    progress: ProgressFn = silent,
) -> Embedding:
    """``compute_embedding`` on the dataset, read from or saved to the disk cache (keyed by the
    space's name)."""
    path = _cache_path(cache_dir, dataset, f"embedding-{space}-{method}-{n}-{seed}.npz")
    if path is not None and path.exists():
        with np.load(path, allow_pickle=False) as saved:
            return Embedding(rows=saved["rows"], coords=saved["coords"], space=space, method=method)
    result = compute_embedding(dataset.labels, dataset.classes, dataset.images, features,
                               space=space, method=method, n=n, seed=seed, spaces=spaces,
                               progress=progress)
    if path is not None:
        buffer = io.BytesIO()
        np.savez(buffer, rows=result.rows, coords=result.coords)
        _try_cache(lambda: write_atomic(path, buffer.getvalue()))
    return result


def read_committed_stats(summary_dir: str | os.PathLike = SUMMARY_DIR) -> DatasetStats | None:
    """The committed full-CIFAKE statistics, or None if the file is absent."""
    path = Path(summary_dir) / "stats.json"
    return DatasetStats.from_json(path.read_text()) if path.exists() else None


def read_committed_embedding(summary_dir: str | os.PathLike = SUMMARY_DIR) -> dict | None:
    """The committed embedding sample: ``meta``, ``points`` (path, label, class, split),
    ``features`` (one list per feature) and ``coords`` (``"space/method"`` -> n x 2)."""
    path = Path(summary_dir) / "embedding.json"
    return json.loads(path.read_text()) if path.exists() else None


def write_summary(
    dataset: Dataset,
    *,
    out_dir: str | os.PathLike = SUMMARY_DIR,
    sample: int = EMBEDDING_SAMPLE,
    progress: ProgressFn = silent,
) -> list[Path]:
    """Compute statistics and embeddings of ``dataset`` and write them (atomically) to
    ``out_dir``/stats.json and ``out_dir``/embedding.json. Returns the written paths."""
    features = dataset_features(dataset, progress=subrange(progress, 0.0, 0.3))
    stats = dataset_stats(dataset, features, progress=subrange(progress, 0.3, 0.5))
    stats.meta["listing_fingerprint"] = listing_fingerprint(scan_source(dataset.source))
    coords, rows = {}, None
    runs = [(space, method) for space in ("pixels", "features") for method in ("pca", "tsne")]
    for k, (space, method) in enumerate(runs):
        result = compute_embedding(
            dataset.labels, dataset.classes, dataset.images, features,
            space=space, method=method, n=sample,
            progress=subrange(progress, 0.5 + 0.5 * k / len(runs), 0.5 + 0.5 * (k + 1) / len(runs)),
        )
        rows = result.rows
        coords[f"{space}/{method}"] = np.round(result.coords, 3).tolist()
    assert rows is not None  # set by the runs above
    embedding = {
        "meta": {"fingerprint": dataset.fingerprint, "n": int(len(rows)), "seed": 0},
        "points": {
            "path": dataset.paths[rows].tolist(),
            "label": dataset.labels[rows].tolist(),
            "class": dataset.classes[rows].tolist(),
            "split": dataset.splits[rows].tolist(),
        },
        "features": {
            name: np.round(features[rows, i], 4).tolist() for i, name in enumerate(FEATURES)
        },
        "coords": coords,
    }
    out = Path(out_dir)
    written = [
        write_atomic(out / "stats.json", stats.to_json()),
        write_atomic(out / "embedding.json", json.dumps(embedding, separators=(",", ":"))),
    ]
    progress(1.0, "Summary written")
    return written


def add_embeddings(
    dataset: Dataset,
    spaces: Mapping[str, Space],
    *,
    methods: tuple[str, ...] = METHODS,
    summary_dir: str | os.PathLike = SUMMARY_DIR,
    progress: ProgressFn = silent,
) -> Path:
    """Add the committed sample's coordinates in more ``spaces`` (a trained CNN's features) to
    ``summary_dir``/embedding.json, keeping every number already there. Returns its path.

    Raises
    ------
    DataError
        If there is no committed embedding, or ``dataset`` is not the data it describes.
    """
    summary = read_committed_embedding(summary_dir)
    if summary is None:
        raise DataError(f"no embedding in {summary_dir}: run `python -m core stats` first")
    if summary["meta"]["fingerprint"] != dataset.fingerprint:
        raise DataError(f"the embedding in {summary_dir} describes other images "
                        f"(fingerprint {summary['meta']['fingerprint']}, these images "
                        f"{dataset.fingerprint})")
    rows = dataset.rows_of(summary["points"]["path"])
    images = dataset.images[rows]
    features = feature_table(images)
    n_runs = len(spaces) * len(methods)
    for i, space in enumerate(spaces):
        matrix = space_matrix(space, images, features, spaces=spaces)  # one pass of its model
        for j, method in enumerate(methods):
            k = i * len(methods) + j
            coords = embed(matrix, method, perplexity=min(30.0, (len(rows) - 1) / 3),
                           seed=summary["meta"]["seed"],
                           progress=subrange(progress, k / n_runs, (k + 1) / n_runs))
            summary["coords"][f"{space}/{method}"] = np.round(coords, 3).tolist()
    path = write_atomic(Path(summary_dir) / "embedding.json",
                        json.dumps(summary, separators=(",", ":")))
    progress(1.0, "Embedding written")
    return path


def _cache_path(cache_dir, dataset: Dataset, name: str) -> Path | None:
    if cache_dir is None:
        return None
    return Path(cache_dir) / f"derived-{dataset.fingerprint}-v{_VERSION}" / name


def _try_cache(write) -> None:
    try:
        write()
    except OSError:
        pass  # a read-only or full disk only costs the cache
