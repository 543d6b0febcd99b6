"""2-D embeddings (PCA, t-SNE) of a stratified sample, in a choice of feature spaces.

A *space* turns the sampled images into a matrix (n_samples, n_dims). ``SPACES`` lists the
built-in ones; callers pass more (a CNN's penultimate layer) as ``spaces``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from core.analysis.features import flatten
from core.progress import ProgressFn, silent

__all__ = [
    "METHODS",
    "SPACES",
    "MAX_SAMPLE",
    "Embedding",
    "Space",
    "cnn_space",
    "compute_embedding",
    "embed",
    "space_matrix",
    "stratified_sample",
]

METHODS = ("tsne", "pca")
MAX_SAMPLE = 10_000
PIXEL_PCA_DIMS = 50  # t-SNE on pixels runs on their first 50 principal components


@dataclass(frozen=True)
class Space:
    """A feature space of the embedding map."""

    description: str  # what the space is, in plain words
    # (images uint8 (n, s, s, 3), their rows of the feature table) -> matrix (n, n_dims)
    matrix: Callable[[np.ndarray, np.ndarray], np.ndarray]


SPACES: dict[str, Space] = {
    "pixels": Space("Raw pixels: every RGB value of the image, scaled to 0-1.",
                    lambda images, features: flatten(images)),
    "features": Space("Engineered features: blur, background defects, brightness, contrast, "
                      "colour and high-frequency share, each standardised.",
                      lambda images, features: features),
}


def cnn_space(model: str, sha256: str) -> str:
    """The name of a trained CNN's penultimate layer as a space (its file version included, so
    coordinates of a retrained model are never taken for the old one's)."""
    return f"cnn-{model}-{sha256[:8]}"


@dataclass(frozen=True)
class Embedding:
    """2-D coordinates of sampled rows.

    Attributes
    ----------
    rows : ndarray of shape (n,)
        Row indices into the dataset.
    coords : ndarray of shape (n, 2), dtype float32
    space, method : str
    """

    rows: np.ndarray
    coords: np.ndarray
    space: str
    method: str


def stratified_sample(
    labels: np.ndarray, classes: np.ndarray, n: int, *, seed: int = 0
) -> np.ndarray:
    """Sorted row indices of about ``n`` rows, equal numbers per (label, class) stratum where
    the strata are large enough.

    Raises
    ------
    ValueError
        If ``n`` is not between 10 and ``MAX_SAMPLE``.
    """
    if not 10 <= n <= MAX_SAMPLE:
        raise ValueError(f"sample size must be between 10 and {MAX_SAMPLE:,} (got {n:,})")
    rng = np.random.default_rng(seed)
    strata = labels.astype(np.int64) * 16 + classes
    keys = np.unique(strata)
    per_stratum = max(1, n // len(keys))
    picked = [
        rng.choice(idx, size=min(per_stratum, len(idx)), replace=False)
        for idx in (np.flatnonzero(strata == k) for k in keys)
    ]
    return np.sort(np.concatenate(picked))


def space_matrix(space: str, images: np.ndarray, features: np.ndarray, *,
                 spaces: Mapping[str, Space] = SPACES) -> np.ndarray:
    """The sampled rows expressed in one of ``spaces``, standardised per column."""
    if space not in spaces:
        raise ValueError(f"unknown space {space!r}; choose from {sorted(spaces)}")
    from sklearn.preprocessing import StandardScaler  # imported on use: pages load faster

    matrix = np.asarray(spaces[space].matrix(images, features), dtype=np.float32)
    return StandardScaler().fit_transform(matrix).astype(np.float32)


def embed(
    matrix: np.ndarray,
    method: str,
    *,
    perplexity: float = 30.0,
    seed: int = 0,
    progress: ProgressFn = silent,
) -> np.ndarray:
    """2-D coordinates of each row of ``matrix``.

    Parameters
    ----------
    matrix : ndarray of shape (n_samples, n_dims)
    method : {"tsne", "pca"}
        t-SNE uses openTSNE (FFT-accelerated, about 1.5x faster than scikit-learn's at 2,000
        points and more at 10,000, with iteration callbacks for progress); wide inputs are
        first reduced to ``PIXEL_PCA_DIMS`` principal components.

    Returns
    -------
    coords : ndarray of shape (n_samples, 2), dtype float32
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    from sklearn.decomposition import PCA  # imported on use: pages load faster

    n = len(matrix)
    if method == "pca":
        progress(0.5, "PCA")
        return PCA(n_components=2, random_state=seed).fit_transform(matrix).astype(np.float32)
    if perplexity * 3 >= n:
        raise ValueError(f"perplexity must be < n_samples / 3 (got {perplexity} for {n} samples)")
    from openTSNE import TSNE  # heavy import, only when t-SNE runs

    if matrix.shape[1] > PIXEL_PCA_DIMS:
        progress(0.02, f"PCA to {PIXEL_PCA_DIMS} dimensions")
        dims = min(PIXEL_PCA_DIMS, n)  # PCA gives at most n_samples components
        matrix = PCA(n_components=dims, random_state=seed).fit_transform(matrix)
    total = 250 + 500  # openTSNE's early exaggeration + optimisation iterations
    done = {"iterations": 0}

    def callback(iteration, error, embedding):
        done["iterations"] += 25
        progress(0.05 + 0.95 * min(done["iterations"] / total, 1.0),
                 f"t-SNE iteration {done['iterations']} / {total}")

    tsne = TSNE(
        perplexity=perplexity, random_state=seed, n_jobs=-1,
        callbacks=callback, callbacks_every_iters=25,
    )
    return np.asarray(tsne.fit(matrix), dtype=np.float32)


def compute_embedding(
    labels: np.ndarray,
    classes: np.ndarray,
    images: np.ndarray,
    features: np.ndarray,
    *,
    space: str = "pixels",
    method: str = "tsne",
    n: int = 2000,
    seed: int = 0,
    spaces: Mapping[str, Space] = SPACES,
    progress: ProgressFn = silent,
) -> Embedding:
    """Sample ``n`` rows (stratified), express them in ``space`` (one of ``spaces``) and embed
    them with ``method`` (t-SNE perplexity 30, lower for samples under 91 rows).

    Parameters
    ----------
    labels, classes : ndarray of shape (n_images,)
    images : ndarray of shape (n_images, size, size, 3), dtype uint8
    features : ndarray of shape (n_images, n_features)
    """
    rows = stratified_sample(labels, classes, n, seed=seed)
    matrix = space_matrix(space, images[rows], features[rows], spaces=spaces)
    # t-SNE needs perplexity < n / 3: small samples (tiny datasets) get a smaller one
    perplexity = min(30.0, (len(rows) - 1) / 3)
    coords = embed(matrix, method, perplexity=perplexity, seed=seed, progress=progress)
    progress(1.0, "Embedding done")
    return Embedding(rows=rows, coords=coords, space=space, method=method)
