"""Stratified samples and 2-D embeddings (PCA, t-SNE)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import cifake_files, write_zip

from core.analysis.embed import (
    MAX_SAMPLE,
    SPACES,
    Space,
    cnn_space,
    compute_embedding,
    embed,
    space_matrix,
    stratified_sample,
)
from core.analysis.summary import add_embeddings, write_summary
from core.data.dataset import load_dataset
from core.errors import DataError


def _strata(n_per=(50, 30, 40, 5)):
    """labels/classes with strata (REAL,1), (REAL,2), (FAKE,1), (FAKE,2) of the given sizes."""
    cells = [(0, 1), (0, 2), (1, 1), (1, 2)]
    labels = np.concatenate([[lab] * k for (lab, _), k in zip(cells, n_per)]).astype(np.int8)
    classes = np.concatenate([[c] * k for (_, c), k in zip(cells, n_per)]).astype(np.int8)
    perm = np.random.default_rng(0).permutation(len(labels))
    return labels[perm], classes[perm]


def test_stratified_sample_balances_strata():
    labels, classes = _strata()
    rows = stratified_sample(labels, classes, 40, seed=0)
    assert rows.tolist() == sorted(set(rows.tolist()))  # sorted, no repeats
    per = {(lab, c): int(((labels[rows] == lab) & (classes[rows] == c)).sum())
           for lab in (0, 1) for c in (1, 2)}
    assert per == {(0, 1): 10, (0, 2): 10, (1, 1): 10, (1, 2): 5}  # the small stratum gives all


def test_stratified_sample_deterministic():
    labels, classes = _strata()
    a = stratified_sample(labels, classes, 20, seed=3)
    np.testing.assert_array_equal(a, stratified_sample(labels, classes, 20, seed=3))
    assert not np.array_equal(a, stratified_sample(labels, classes, 20, seed=4))


@pytest.mark.parametrize("n", [0, 9, MAX_SAMPLE + 1])
def test_stratified_sample_rejects_n(n):
    labels, classes = _strata()
    with pytest.raises(ValueError, match=f"sample size must be between 10 and {MAX_SAMPLE:,}"):
        stratified_sample(labels, classes, n)


def test_pca_shape_and_variance():
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(100, 5)).astype(np.float32)
    matrix[:, 0] *= 10  # the dominant direction
    coords = embed(matrix, "pca")
    assert coords.shape == (100, 2) and coords.dtype == np.float32
    assert np.var(coords[:, 0]) > np.var(coords[:, 1])
    np.testing.assert_allclose(np.abs(np.corrcoef(coords[:, 0], matrix[:, 0])[0, 1]), 1, atol=0.01)


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown method 'umap'"):
        embed(np.zeros((20, 3), np.float32), "umap")


def _blobs(n=150, dims=10, seed=0):
    rng = np.random.default_rng(seed)
    half = n // 2
    a = rng.normal(0, 1, (half, dims))
    b = rng.normal(0, 1, (n - half, dims))
    b[:, 0] += 12
    return np.vstack([a, b]).astype(np.float32), np.repeat([0, 1], [half, n - half])


@pytest.mark.slow
def test_tsne_separates_blobs_and_reports_progress():
    matrix, truth = _blobs()
    calls = []
    coords = embed(matrix, "tsne", perplexity=20, seed=0,
                   progress=lambda f, m: calls.append((f, m)))
    assert coords.shape == (150, 2) and coords.dtype == np.float32
    assert np.isfinite(coords).all()
    # nearest-centroid classification in 2-D recovers the blobs
    centroids = np.stack([coords[truth == k].mean(axis=0) for k in (0, 1)])
    nearest = np.argmin(((coords[:, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1)
    assert (nearest == truth).all()
    spread = max(coords[truth == k].std(axis=0).max() for k in (0, 1))
    assert np.linalg.norm(centroids[0] - centroids[1]) > 3 * spread
    fractions = [f for f, _ in calls]
    assert len(fractions) >= 10
    assert all(b > a for a, b in zip(fractions, fractions[1:]))  # strictly increasing
    assert 0 < fractions[0] and fractions[-1] <= 1.0
    assert "t-SNE iteration" in calls[-1][1]


@pytest.mark.slow
def test_tsne_wide_input_reduced_first():
    matrix, _ = _blobs(n=60, dims=80)
    messages = []
    coords = embed(matrix, "tsne", perplexity=10, progress=lambda f, m: messages.append(m))
    assert coords.shape == (60, 2)
    assert messages[0] == "PCA to 50 dimensions"


@pytest.mark.slow
def test_tsne_fewer_samples_than_pca_dims():
    matrix, _ = _blobs(n=30, dims=100)  # PCA can give at most 30 components
    coords = embed(matrix, "tsne", perplexity=5)
    assert coords.shape == (30, 2) and np.isfinite(coords).all()


@pytest.mark.slow
def test_tsne_deterministic_per_seed():
    matrix, _ = _blobs(n=60)
    a = embed(matrix, "tsne", perplexity=10, seed=1)
    np.testing.assert_allclose(a, embed(matrix, "tsne", perplexity=10, seed=1), atol=1e-4)


@pytest.mark.parametrize("perplexity, n", [(30.0, 90), (30.0, 50), (5.0, 15)])
def test_perplexity_too_large(perplexity, n):
    matrix = np.random.default_rng(0).normal(size=(n, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="perplexity must be < n_samples / 3"):
        embed(matrix, "tsne", perplexity=perplexity)


def test_space_matrix_standardised():
    images = np.random.default_rng(0).integers(0, 256, (20, 4, 4, 3), dtype=np.uint8)
    features = np.random.default_rng(1).normal(5, 3, (20, 9)).astype(np.float32)
    pixels = space_matrix("pixels", images, features)
    assert pixels.shape == (20, 48) and pixels.dtype == np.float32
    np.testing.assert_allclose(pixels.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(pixels.std(axis=0), 1, atol=1e-4)
    assert space_matrix("features", images, features).shape == (20, 9)
    with pytest.raises(ValueError, match="unknown space 'cnn'"):
        space_matrix("cnn", images, features)


def test_more_spaces_are_passed_not_registered():
    colour = Space("Mean colour.", lambda images, features: images.mean(axis=(1, 2)))
    spaces = {**SPACES, "colour": colour}
    images = np.random.default_rng(0).integers(0, 256, (12, 4, 4, 3), dtype=np.uint8)
    assert space_matrix("colour", images, np.zeros((12, 9)), spaces=spaces).shape == (12, 3)
    assert set(SPACES) == {"pixels", "features"}
    labels, classes = _strata((3, 3, 3, 3))
    result = compute_embedding(labels, classes, images, np.zeros((12, 9)), space="colour",
                               method="pca", n=12, spaces=spaces)
    assert result.space == "colour" and result.coords.shape == (12, 2)
    with pytest.raises(ValueError, match="unknown space 'colour'"):
        compute_embedding(labels, classes, images, np.zeros((12, 9)), space="colour",
                          method="pca", n=12)


@pytest.mark.slow
def test_compute_embedding_small_sample():
    labels, classes = _strata((10, 10, 10, 10))
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 8, 8, 3), dtype=np.uint8)
    features = rng.normal(size=(40, 9)).astype(np.float32)
    # only 40 rows: t-SNE's perplexity is lowered to fit instead of failing
    result = compute_embedding(labels, classes, images, features, space="pixels", method="tsne",
                               n=100)
    assert result.rows.tolist() == list(range(40))
    assert result.coords.shape == (40, 2)
    assert (result.space, result.method) == ("pixels", "tsne")
    pca = compute_embedding(labels, classes, images, features, space="features", method="pca",
                            n=20, seed=2)
    assert len(pca.rows) == 20 and pca.coords.shape == (20, 2)
    np.testing.assert_array_equal(pca.rows, stratified_sample(labels, classes, 20, seed=2))


@pytest.mark.slow
def test_add_embeddings_keeps_the_summary_and_adds_a_space(tmp_path):
    dataset = load_dataset(write_zip(tmp_path / "tiny.zip", cifake_files(16)), cache_dir=None)
    out = tmp_path / "summary"
    write_summary(dataset, out_dir=out, sample=40)
    before = (out / "embedding.json").read_text()
    brightness = Space("mean brightness and its square",
                       lambda images, features: np.column_stack(
                           [images.mean(axis=(1, 2, 3)), images.mean(axis=(1, 2, 3)) ** 2]))
    add_embeddings(dataset, {"bright": brightness}, summary_dir=out)
    old, new = json.loads(before), json.loads((out / "embedding.json").read_text())
    assert {k: v for k, v in new.items() if k != "coords"} == \
        {k: v for k, v in old.items() if k != "coords"}
    assert {k: new["coords"][k] for k in old["coords"]} == old["coords"]
    assert sorted(set(new["coords"]) - set(old["coords"])) == ["bright/pca", "bright/tsne"]
    assert np.asarray(new["coords"]["bright/pca"]).shape == (old["meta"]["n"], 2)
    # other images than the summary's are refused
    other = load_dataset(write_zip(tmp_path / "other.zip", cifake_files(12)), cache_dir=None)
    with pytest.raises(DataError, match="describes other images"):
        add_embeddings(other, {"bright": brightness}, summary_dir=out)


def test_cnn_space_names_the_model_and_its_file_version():
    assert cnn_space("flagship", "d0e260a3907aee17") == "cnn-flagship-d0e260a3"
