"""Per-image features and dataset statistics against known answers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import core.analysis.features as features_module
from core.analysis.features import (
    FEATURES,
    background_residual,
    feature_table,
    gray,
    laplacian_variance,
)
from core.analysis.stats import (
    ALL,
    N_BINS,
    DatasetStats,
    compute_stats,
    frequency_axis,
    radial_profile,
)
from core.data.dataset import Dataset

COL = {name: i for i, name in enumerate(FEATURES)}


def rgb(gray_image: np.ndarray) -> np.ndarray:
    """(h, w) -> (h, w, 3) uint8 with three equal channels."""
    return np.repeat(np.clip(gray_image, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)


def noise(seed: int, size: int = 32) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def gradient(size: int = 32) -> np.ndarray:
    return rgb(np.add.outer(np.arange(size), np.arange(size)) * (255 / (2 * size - 2)))


def cosine(cycles: int, size: int = 32) -> np.ndarray:
    """Vertical stripes: 128 + 100 cos(2 pi cycles x / size), the same on every row."""
    x = np.arange(size)
    row = 128 + 100 * np.cos(2 * np.pi * cycles * x / size)
    return rgb(np.tile(np.round(row), (size, 1)))


def make_dataset(images, labels, classes=None, splits=None, hashes=None) -> Dataset:
    n = len(images)
    return Dataset(
        images=np.asarray(images, dtype=np.uint8),
        labels=np.asarray(labels, dtype=np.int8),
        splits=np.zeros(n, np.int8) if splits is None else np.asarray(splits, np.int8),
        classes=np.ones(n, np.int8) if classes is None else np.asarray(classes, np.int8),
        paths=np.array([f"img{i:04d}.jpg" for i in range(n)]),
        hashes=(np.array([i.to_bytes(16, "big") for i in range(n)], dtype="S16")
                if hashes is None else hashes),
        source="/somewhere/tiny.zip",
        skipped=[],
        split_given=True,
    )


# --- features -----------------------------------------------------------------------------------


def test_laplacian_matches_opencv_per_image():
    images = np.stack([noise(s) for s in range(5)] + [gradient(), cosine(3)])
    g = gray(images)
    expected = [cv2.Laplacian(g[i], cv2.CV_32F, ksize=1).var() for i in range(len(g))]
    np.testing.assert_allclose(laplacian_variance(g), expected, rtol=1e-5)


def test_laplacian_non_square():
    g = gray(np.random.default_rng(3).integers(0, 256, (2, 20, 12, 3), dtype=np.uint8))
    expected = [cv2.Laplacian(x, cv2.CV_32F, ksize=1).var() for x in g]
    np.testing.assert_allclose(laplacian_variance(g), expected, rtol=1e-5)


def test_blur_lowers_laplacian_variance():
    image = noise(7)
    blurred = cv2.GaussianBlur(image, (5, 5), 1.5)
    sharp, smooth = laplacian_variance(gray(np.stack([image, blurred])))
    assert smooth < sharp / 10


def test_gray_weights():
    g = gray(np.array([[[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 10, 10]]]], np.uint8))
    assert g.dtype == np.float32 and g.shape == (1, 1, 4)
    np.testing.assert_allclose(g[0, 0], [0.299 * 255, 0.587 * 255, 0.114 * 255, 10], rtol=1e-5)


def test_constant_image_features():
    table = feature_table(np.full((1, 32, 32, 3), 100, np.uint8))
    row = dict(zip(FEATURES, table[0]))
    assert table.shape == (1, len(FEATURES)) and table.dtype == np.float32
    assert row["laplacian_var"] == 0
    assert row["contrast"] == pytest.approx(0, abs=1e-4)
    assert row["hf_ratio"] == 0
    assert row["background_residual"] == 0
    assert row["brightness"] == pytest.approx(100, abs=1e-3)
    assert row["saturation"] == 0
    assert row["mean_r"] == row["mean_g"] == row["mean_b"] == 100


def test_pure_red_image():
    red = np.zeros((1, 16, 16, 3), np.uint8)
    red[..., 0] = 255
    row = dict(zip(FEATURES, feature_table(red)[0]))
    assert row["saturation"] == pytest.approx(1.0)
    assert row["mean_r"] == 255 and row["mean_g"] == 0 and row["mean_b"] == 0
    assert row["brightness"] == pytest.approx(0.299 * 255, rel=1e-5)


def test_hf_ratio_known_answers():
    checker = rgb((np.indices((32, 32)).sum(axis=0) % 2) * 255)  # all power at Nyquist
    table = feature_table(np.stack([checker, cosine(4), gradient(), noise(1)]))
    hf = table[:, COL["hf_ratio"]]
    assert hf[0] == pytest.approx(1.0)
    assert hf[1] == pytest.approx(0.0, abs=1e-4)  # 4 cycles / 32 px = 0.125 < 0.25 (+ rounding)
    assert hf[2] < 0.1  # a ramp: its periodic wrap-around edge adds a little
    assert hf[3] > 0.6 > hf[2]  # white noise: about 80% of the power above half Nyquist


def test_contrast_and_brightness():
    half = np.zeros((32, 32, 3), np.uint8)
    half[:, 16:] = 200
    row = dict(zip(FEATURES, feature_table(half[None])[0]))
    assert row["brightness"] == pytest.approx(100, rel=1e-5)
    assert row["contrast"] == pytest.approx(100, rel=1e-5)


def test_background_residual_textured_vs_smooth():
    smooth = gradient()
    textured = smooth.astype(int) + np.random.default_rng(0).integers(-30, 31, (32, 32, 1))
    textured = np.clip(textured, 0, 255).astype(np.uint8)
    values = background_residual(np.stack([smooth, textured]))
    assert values[0] < 2.0  # only the rounding of the ramp
    assert values[1] > 10 * values[0]


def test_feature_table_chunks_independent(monkeypatch):
    images = np.stack([noise(s, 16) for s in range(7)])
    whole = feature_table(images)
    monkeypatch.setattr(features_module, "_CHUNK", 3)
    fractions = []
    chunked = feature_table(images, progress=lambda f, m: fractions.append(f))
    np.testing.assert_allclose(chunked, whole, rtol=1e-5)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) == 4
    single = np.concatenate([feature_table(images[i : i + 1]) for i in range(7)])
    np.testing.assert_allclose(single, whole, rtol=1e-5)  # no image sees its neighbour


# --- stats --------------------------------------------------------------------------------------


def test_pixel_hist_single_spike():
    images = np.full((3, 8, 8, 3), 77, np.uint8)
    images[2] = 200  # the FAKE one
    ds = make_dataset(images, labels=[0, 0, 1])
    stats = compute_stats(ds, feature_table(ds.images))
    real = stats.group(ALL, "REAL")["pixel_hist"]
    assert len(real) == 3 and all(len(ch) == 256 for ch in real)
    for ch in range(3):
        assert real[ch][77] == 2 * 64
        assert sum(real[ch]) == 2 * 64
    fake = stats.group(ALL, "FAKE")["pixel_hist"]
    assert fake[0][200] == 64 and sum(fake[0]) == 64


def test_sinusoid_spectrum_peak():
    cycles, size = 8, 32
    images = np.stack([cosine(cycles)] * 2 + [noise(0), noise(1)])
    ds = make_dataset(images, labels=[0, 0, 1, 1])
    stats = compute_stats(ds, feature_table(ds.images))
    spectrum = np.array(stats.group(ALL, "REAL")["spectrum"])
    assert spectrum.shape == (size, size)
    c = size // 2
    assert spectrum[c, c] == spectrum.max()  # DC at the centre
    off_dc = spectrum.copy()
    off_dc[c, c] = -np.inf
    peaks = set(zip(*np.nonzero(off_dc >= off_dc.max() - 1e-9)))
    assert peaks == {(c, c - cycles), (c, c + cycles)}
    radial = np.array(stats.group(ALL, "REAL")["radial_power"])
    assert radial.shape == (c + 1,)
    assert int(np.argmax(radial[1:])) + 1 == cycles
    assert frequency_axis(size)[cycles] == pytest.approx(0.25)


def test_radial_profile_known():
    power = np.zeros((8, 8))
    power[4, 4] = 10.0  # centre
    power[4, 6] = 8.0  # radius 2
    profile = radial_profile(power)
    assert len(profile) == 5
    assert profile[0] == 10.0
    assert profile[1] == 0.0
    n_radius_2 = (np.hypot(*(np.indices((8, 8)) - 4)).round() == 2).sum()
    assert profile[2] == pytest.approx(8.0 / n_radius_2)
    np.testing.assert_allclose(frequency_axis(8), [0, 0.125, 0.25, 0.375, 0.5])


def _varied_dataset() -> tuple[Dataset, np.ndarray]:
    rng = np.random.default_rng(5)
    n = 60
    images = []
    for i in range(n):
        base = gradient() if i % 3 else noise(i)
        jitter = rng.integers(-10, 11, (32, 32, 1))
        images.append(np.clip(base.astype(int) + jitter, 0, 255).astype(np.uint8))
    labels = np.arange(n) % 2
    classes = np.where(np.arange(n) < 40, 2, 5)  # automobile, deer
    splits = (np.arange(n) >= 50).astype(int)
    hashes = np.array([i.to_bytes(16, "big") for i in range(n)], dtype="S16")
    hashes[55] = hashes[3]  # a test image leaked from train
    ds = make_dataset(np.stack(images), labels, classes, splits, hashes)
    return ds, feature_table(ds.images)


@pytest.fixture(scope="module")
def varied():
    ds, features = _varied_dataset()
    return ds, features, compute_stats(ds, features)


def test_groups_all_and_present_classes(varied):
    ds, features, stats = varied
    assert stats.classes == [ALL, "automobile", "deer"]
    assert set(stats.groups[ALL]) == {"REAL", "FAKE"}
    assert stats.group(ALL, "REAL")["n"] == 30
    assert stats.group("automobile", "FAKE")["n"] == 20
    assert stats.group("deer", "REAL")["n"] == 10
    assert stats.meta == {"source": "tiny.zip", "fingerprint": ds.fingerprint, "size": 32,
                          "n_images": 60}
    assert stats.counts == ds.counts()
    assert stats.duplicates["leaked_test"] == 1 and stats.duplicates["duplicate_groups"] == 1


def test_feature_histograms(varied):
    ds, features, stats = varied
    for name in FEATURES:
        edges = stats.feature_edges[name]
        assert len(edges) == N_BINS + 1 and edges == sorted(edges)
        for cls in stats.classes:
            for label in ("REAL", "FAKE"):
                group = stats.group(cls, label)
                assert sum(group["feature_hist"][name]) == group["n"]  # outliers clipped in
    log_edges = np.array(stats.feature_edges["laplacian_var"])
    ratios = log_edges[1:] / log_edges[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-3)  # log-spaced


def test_box_summary_matches_numpy(varied):
    ds, features, stats = varied
    for cls, mask_cls in ((ALL, np.ones(len(ds), bool)), ("deer", ds.classes == 5)):
        for lab, label in enumerate(("REAL", "FAKE")):
            for name in ("laplacian_var", "brightness", "hf_ratio"):
                values = features[mask_cls & (ds.labels == lab), COL[name]]
                box = stats.group(cls, label)["feature_box"][name]
                q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
                assert box["q1"] == pytest.approx(q1, rel=1e-6)
                assert box["median"] == pytest.approx(median, rel=1e-6)
                assert box["q3"] == pytest.approx(q3, rel=1e-6)
                assert box["mean"] == pytest.approx(values.mean(), rel=1e-5)
                iqr = q3 - q1
                outside = (values < q1 - 1.5 * iqr) | (values > q3 + 1.5 * iqr)
                assert box["n_outliers"] == outside.sum()
                assert box["lower_fence"] == pytest.approx(values[~outside].min(), rel=1e-6)
                assert box["upper_fence"] == pytest.approx(values[~outside].max(), rel=1e-6)


def test_top_background(varied):
    ds, features, stats = varied
    top = stats.group(ALL, "FAKE")["top_background"]
    assert len(top) == 12
    scores = [t["score"] for t in top]
    assert scores == sorted(scores, reverse=True)
    fake = ds.labels == 1
    best = np.flatnonzero(fake)[np.argmax(features[fake, COL["background_residual"]])]
    assert top[0]["path"] == ds.paths[best]


def test_json_round_trip(varied):
    _, _, stats = varied
    text = stats.to_json()
    again = DatasetStats.from_json(text)
    assert again == stats
    assert again.to_json() == text
