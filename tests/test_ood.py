"""Off-distribution abstention and the stability checks: the cut-off rule, each reason on
generated inputs, the scan columns, the checks' harmlessness at 32x32, the committed reports."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from helpers import bad_input_battery, encode, random_image, stand_in_detector, write_tree

from core.data.imageio import describe_image, resize_square
from core.data.perturb import STABILITY_CHECKS, jpeg, shift
from core.detect import ood
from core.detect.detector import Detector
from core.detect.scanning import iter_image_files, scan
from core.detect.stability import stability
from core.models.artifacts import MODELS_DIR

# --- the cut-off rule -----------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 7, 20, 101, 1000, 4321])
@pytest.mark.parametrize("seed", [0, 1])
def test_cutoff_flags_at_most_five_percent_of_validation(n, seed):
    distances = np.random.default_rng(seed).gamma(2.0, 3.0, n)
    distances[: n // 3] = distances[0]  # ties too
    cutoff = ood.cutoff_for(distances)
    assert cutoff in distances
    assert np.mean(distances > cutoff) <= ood.FLAG_RATE
    # the smallest such cut-off: one step lower flags more than 5 %
    lower = distances[distances < cutoff]
    if len(lower):
        assert np.mean(distances > lower.max()) > ood.FLAG_RATE


def test_cutoff_needs_validation_images():
    with pytest.raises(ValueError, match="at least one validation image"):
        ood.cutoff_for(np.array([]))


def test_gaussian_fit_scores_validation_and_outliers():
    rng = np.random.default_rng(0)
    train, val = rng.normal(size=(2000, 8)), rng.normal(size=(500, 8))
    gaussian = ood.fit_gaussian(train, "m", "abc")
    gaussian = replace(gaussian, cutoff=ood.cutoff_for(gaussian.distance(val)))
    assert np.mean(gaussian.ratio(val) > 1) <= ood.FLAG_RATE
    assert gaussian.ratio(np.full((1, 8), 10.0))[0] > 3  # far from the training features
    restored = ood.from_report(json.loads(json.dumps(ood.to_report(gaussian))))
    np.testing.assert_allclose(restored.ratio(val), gaussian.ratio(val), rtol=1e-5)
    with pytest.raises(ValueError, match="at least 2 images"):
        ood.fit_gaussian(train[:1])


def test_choose_prefers_a_matching_file_version():
    g = {n: ood.Gaussian(n, sha, np.zeros(2), np.eye(2), 1.0)
         for n, sha in [("scanner", "s1"), ("flagship", "f1")]}
    assert ood.choose(g, {"flagship": "f1", "scanner": "s1"}, ("scanner",)).model == "scanner"
    assert ood.choose(g, {"flagship": "f1", "scanner": "s2"}, ("scanner",)).model == "flagship"
    assert ood.choose(g, {"logreg": "x"}) is None


# --- each reason ----------------------------------------------------------------------------


def _reasons(data: bytes) -> list[str]:
    return ood.rule_reasons(describe_image(data))


def test_cifake_like_files_have_no_reason():
    assert _reasons(encode(random_image(0), ".jpg", quality=75)) == []
    assert _reasons(encode(random_image(0, (40, 36)), ".jpg", quality=80)) == []


def test_size_reason():
    [reason] = _reasons(encode(random_image(1, (1500, 2000)), ".jpg", quality=75))
    assert reason == "2000x1500 photo: the models only learned 32x32 images"
    [reason] = _reasons(encode(random_image(1, (8, 8)), ".jpg", quality=75))
    assert reason.startswith("8x8 image")
    [reason] = _reasons(encode(random_image(1, (32, 48)), ".jpg", quality=75))
    assert reason == "48x32 image: the models only learned square 32x32 images"


def test_format_reason():
    assert _reasons(encode(random_image(2), ".png")) == [
        "PNG file: the models only learned JPEG q75"]


def test_colour_mode_reason():
    cmyk = bad_input_battery()["cmyk.jpg"][0]
    assert _reasons(cmyk) == ["CMYK JPEG: the models only learned colour (RGB) JPEGs"]


@pytest.mark.parametrize("quality", [30, 95])
def test_quality_reason(quality):
    assert _reasons(encode(random_image(3), ".jpg", quality=quality)) == [
        f"JPEG quality {quality}: the models only learned JPEG q75"]


def test_learned_reason_and_combined_reasons():
    gaussian = ood.Gaussian("flagship", "", np.zeros(2), np.eye(2), 27.0)
    check = ood.judge(None, 41 / 27, gaussian)
    assert check.flagged and check.reason == (
        "unusual for the flagship's features (distance 41.0 > cut-off 27.0)")
    assert not ood.judge(None, 0.9, gaussian).flagged
    both = ood.judge(describe_image(encode(random_image(4, (600, 800)), ".png")), 2.0, gaussian)
    assert both.reason.split("; ")[:2] == ["800x600 photo: the models only learned 32x32 images",
                                           "PNG file: the models only learned JPEG q75"]
    assert both.ratio == 2.0


# --- scans ----------------------------------------------------------------------------------


class ColourFeatures:
    """A stand-in model whose 'features' are the mean colour and whose P(FAKE) is brightness."""

    name, family, size, sha256 = "colour", "cnn", 32, ""

    def predict(self, images):
        return images.mean(axis=(1, 2, 3)).astype(np.float32) / 255

    def predict_with_features(self, images):
        return self.predict(images), images.mean(axis=(1, 2)).astype(np.float64)


def _colour_detector() -> Detector:
    rng = np.random.default_rng(0)
    grey = rng.normal(60, 10, (500, 1)) + rng.normal(0, 2, (500, 3))  # dark grey training images
    gaussian = ood.fit_gaussian(grey, "colour")
    gaussian = replace(gaussian, cutoff=ood.cutoff_for(gaussian.distance(grey)))
    return Detector({"colour": ColourFeatures()}, {"colour": 0.5}, ["colour"], 32,
                            {"colour": "cnn"}, {"colour": gaussian})


def test_scan_columns_flag_each_reason(tmp_path):
    grey = np.full((32, 32, 3), 60, np.uint8)
    red = grey.copy()
    red[..., 0] = 250
    folder = write_tree(tmp_path, {
        "cifake_like.jpg": encode(grey, ".jpg", quality=75),
        "photo.jpg": encode(np.full((1500, 2000, 3), 60, np.uint8), ".jpg", quality=75),
        "resaved.png": encode(grey, ".png"),
        "q30.jpg": encode(grey, ".jpg", quality=30),
        "unusual.jpg": encode(red, ".jpg", quality=75),
        "broken.jpg": b"not an image"})
    rows = scan(iter_image_files([folder]), _colour_detector())
    by_name = {Path(r["path"]).name: r for r in rows}
    assert list(rows[0]).index("ood_ratio") == list(rows[0]).index("verdict") + 1
    # the ratio's older name is still written, last, with the same value
    assert list(rows[0])[-1] == "ood_score" and all(r["ood_score"] == r["ood_ratio"] for r in rows)
    assert list(rows[0]).index("ood_reason") == list(rows[0]).index("verdict") + 2
    ok = by_name["cifake_like.jpg"]
    assert ok["ood_reason"] == "" and ok["ood_ratio"] < 1 and ok["verdict"] == "REAL"
    expected = {"photo.jpg": "2000x1500 photo: the models only learned 32x32 images",
                "resaved.png": "PNG file: the models only learned JPEG q75",
                "q30.jpg": "JPEG quality 30: the models only learned JPEG q75",
                "unusual.jpg": "unusual for the colour's features (distance"}
    for name, reason in expected.items():
        assert by_name[name]["ood_reason"].startswith(reason), name
        assert by_name[name]["verdict"] == ood.INCONCLUSIVE, name
        assert by_name[name]["p_fake_ensemble"] is not None  # the scores are still given
    assert by_name["unusual.jpg"]["ood_ratio"] > 1
    broken = by_name["broken.jpg"]
    assert (broken["status"], broken["ood_ratio"], broken["ood_reason"]) == ("error", None, "")


def test_scan_without_a_fitted_distribution_uses_the_rules_only(tmp_path):
    folder = write_tree(tmp_path, {"a.png": encode(random_image(0), ".png"),
                                   "b.jpg": encode(random_image(1), ".jpg", quality=75)})
    rows = scan(iter_image_files([folder]), stand_in_detector(),
                        check_stability=False)
    assert [r["ood_ratio"] for r in rows] == [None, None]
    assert rows[0]["verdict"] == ood.INCONCLUSIVE and rows[1]["ood_reason"] == ""


# --- the stability checks -------------------------------------------------------------------


def _cifake_like(seed: int) -> np.ndarray:
    """A 32x32 image as CIFAKE stores it: a smooth scene saved as JPEG q75."""
    scene = resize_square(random_image(seed, (256, 256)), 32)
    return jpeg(scene[None], 75)


def test_stability_checks_are_harmless_at_32x32():
    assert list(STABILITY_CHECKS) == ["mirror", "JPEG q95", "JPEG q90", "1-px shift"]
    assert not any("0.5x" in c or "blur" in c for c in STABILITY_CHECKS)
    images = np.concatenate([_cifake_like(s) for s in range(8)])
    for check in ("JPEG q95", "JPEG q90"):  # re-saving changes a pixel by under 3 levels on average
        changed = STABILITY_CHECKS[check](images)
        assert changed.shape == images.shape
        assert np.abs(changed.astype(int) - images).mean() < 3, check
    # the geometric changes keep every pixel: mirrored, or moved by one pixel
    np.testing.assert_array_equal(STABILITY_CHECKS["mirror"](images), images[:, :, ::-1])
    shifted = STABILITY_CHECKS["1-px shift"](images)
    np.testing.assert_array_equal(shifted[:, 1:, 1:], images[:, :-1, :-1])


def test_shift_reflects_the_border():
    x = np.arange(16, dtype=np.uint8).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(shift(x, 1, 1)[0, 1:, 1:], x[0, :3, :3])
    np.testing.assert_array_equal(shift(x, 1, 1)[0, 0, 1:], x[0, 1, :3])  # row 1 reflected
    np.testing.assert_array_equal(shift(x, -1, 0)[0, :3], x[0, 1:])


def test_stability_says_which_change_flipped_which_model():
    image = np.zeros((1, 32, 32, 3), np.uint8)
    image[:, :, 16:] = 255  # right half white: the mirror keeps brightness, JPEG barely moves it
    detector = stand_in_detector(0.5)
    result = stability(detector, image)
    assert list(result.flipped) == list(STABILITY_CHECKS)
    for name in detector.names:
        assert result.flipped_by(name) == [c for c in STABILITY_CHECKS
                                           if result.flipped[c][name][0]]
        assert result.flips[name][0] == bool(result.flipped_by(name))


# --- the committed reports ------------------------------------------------------------------


def test_committed_ood_report_meets_the_flag_rate():
    report = json.loads((MODELS_DIR / ood.REPORT).read_text())
    for name, entry in report["models"].items():
        assert entry["flag_rates"]["validation"] <= ood.FLAG_RATE
        assert entry["flag_rates"]["test"] <= ood.FLAG_RATE + 0.01
        assert len(entry["precision"]) == entry["dim"] == len(entry["mean"])
        sha = json.loads((MODELS_DIR / f"{name}.json").read_text())["sha256"]
        assert entry["sha256"] == sha  # fitted on the shipped file
    assert (MODELS_DIR / ood.REPORT).stat().st_size < 2 * 2**20
    loaded = ood.load_gaussians()
    assert set(loaded) == set(report["models"])


def test_committed_stability_report():
    report = json.loads((MODELS_DIR / "stability.json").read_text())
    assert report["checks"] == list(STABILITY_CHECKS)
    assert report["models"]["flagship"]["unstable_share"] <= 0.10
