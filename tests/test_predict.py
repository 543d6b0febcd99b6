"""The prediction path: preprocessing, verdicts, stability, tiles, heat maps, batch scanning
(core and CLI), on generated files, stand-in models, a tiny CNN and the shipped models."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import (
    bad_input_battery,
    cli,
    encode,
    random_image,
    stand_in_detector,
    write_tree,
    write_zip,
)

from core.data.imageio import decode_image, describe_image, estimate_jpeg_quality
from core.data.perturb import STABILITY_CHECKS
from core.detect import ood, scanning
from core.detect.detector import ENSEMBLE, inconclusive_band, prepare, verdict
from core.detect.scanning import iter_image_files, iter_uploads, scan
from core.detect.stability import stability
from core.detect.tiles import score_tiles, tiles
from core.errors import ImageError
from core.models.artifacts import MODELS_DIR

# --- decoding and describing ----------------------------------------------------------------


@pytest.mark.parametrize("name", list(bad_input_battery()))
def test_bad_input_battery_in_core(name):
    data, expected = bad_input_battery()[name]
    if expected is None:
        image = decode_image(data)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert prepare(image, 32).shape == (32, 32, 3)
    else:
        with pytest.raises(ImageError, match=re.escape(expected)):
            decode_image(data)


@pytest.mark.parametrize("quality", [20, 50, 75, 90])
def test_jpeg_quality_estimated_from_tables(quality):
    info = describe_image(encode(random_image(1, (40, 24)), ".jpg", quality=quality))
    assert (info.format, info.width, info.height) == ("JPEG", 24, 40)
    assert info.jpeg_quality == quality and info.jpeg_quality_exact


def test_jpeg_quality_of_scaled_tables_is_approximate():
    tables = {0: [v + 1 for v in range(1, 65)], 1: [50] * 64}  # not IJG tables
    quality, exact = estimate_jpeg_quality(tables)
    assert 1 <= quality <= 100 and not exact


def test_describe_png_and_gif():
    info = describe_image(bad_input_battery()["animated.gif"][0])
    assert (info.format, info.frames, info.jpeg_quality) == ("GIF", 2, None)
    with pytest.raises(ImageError):
        describe_image(b"not an image")


# --- preprocessing --------------------------------------------------------------------------


def test_prepare_resize_and_crop():
    image = np.zeros((40, 80, 3), np.uint8)
    image[:, 20:60] = 200  # the centre square is bright, the sides dark
    assert prepare(image, 32, "crop").mean() == 200
    resized = prepare(image, 32, "resize")
    assert resized.shape == (32, 32, 3) and 90 < resized.mean() < 110
    with pytest.raises(ValueError, match="unknown view"):
        prepare(image, 32, "zoom")


def test_score_tiles_scores_every_region_with_the_ensemble():
    image = np.zeros((64, 96, 3), np.uint8)
    image[:, 48:] = 255  # the right half is white: bright, so FAKE by the brightness model
    tiles = score_tiles(stand_in_detector(0.5), image, 2)
    assert tiles.boxes == [(0, 0, 32, 48), (0, 48, 32, 96), (32, 0, 64, 48), (32, 48, 64, 96)]
    # ensemble = mean of brightness (0 or 1) and contrast (0 on flat regions)
    np.testing.assert_allclose(tiles.p_fake, [0, 0.5, 0, 0.5], atol=1e-6)
    assert tiles.threshold == 0.5 and tiles.n_fake == 2


def test_tiles_cover_the_image():
    image = np.arange(60 * 90 * 3, dtype=np.uint32).reshape(60, 90, 3).astype(np.uint8)
    inputs, boxes = tiles(image, 32, 3)
    assert inputs.shape == (9, 32, 32, 3)
    assert boxes[0] == (0, 0, 20, 30) and boxes[-1] == (40, 60, 60, 90)
    assert sum((bottom - top) * (right - left)
               for top, left, bottom, right in boxes) == 60 * 90


# --- verdicts -------------------------------------------------------------------------------


@pytest.mark.parametrize("p, threshold, expected", [
    (0.61, 0.5, "FAKE"), (0.59, 0.5, "inconclusive"), (0.40, 0.5, "inconclusive"),
    (0.39, 0.5, "REAL"), (0.0, 1e-40, "REAL"), (0.19, 1e-40, "inconclusive"),
    (0.21, 1e-40, "FAKE"), (0.91, 0.9, "inconclusive"), (0.93, 0.9, "FAKE"),
    (0.71, 0.9, "REAL"),
])
def test_verdict_band(p, threshold, expected):
    assert verdict(p, threshold) == expected


def test_band_is_proportional_and_zero_band_has_no_inconclusive():
    assert inconclusive_band(0.5, 0.1) == pytest.approx((0.4, 0.6))
    assert inconclusive_band(0.9, 0.1) == pytest.approx((0.72, 0.92))
    assert verdict(0.5, 0.5, band=0.0) == "FAKE" and verdict(0.4999, 0.5, band=0.0) == "REAL"


def test_detector_scores_and_ensemble():
    images = np.stack([np.full((32, 32, 3), 51, np.uint8), np.full((32, 32, 3), 204, np.uint8)])
    scores = stand_in_detector(0.5).score(images)
    np.testing.assert_allclose(scores["bright"], [0.2, 0.8], atol=1e-6)
    np.testing.assert_allclose(scores["contrast"], [0, 0], atol=1e-6)
    np.testing.assert_allclose(scores[ENSEMBLE], [0.1, 0.4], atol=1e-6)


def test_stability_flags_a_verdict_that_a_resave_flips():
    image = np.zeros((1, 32, 32, 3), np.uint8)
    image[:, :, ::2] = 255  # vertical stripes: maximal contrast, mean brightness 0.5
    detector = stand_in_detector(0.999)
    original = float(detector.score(image)["contrast"][0])
    assert original > 0.999  # FAKE by the contrast model
    result = stability(detector, image)
    assert list(result.degraded) == list(result.inputs) == list(STABILITY_CHECKS)
    assert result.original["contrast"][0] == original
    assert result.degraded["JPEG q90"]["contrast"][0] < 0.999  # the re-save softens the stripes
    assert "JPEG q90" in result.flipped_by("contrast") and "mirror" not in result.flipped_by(
        "contrast")  # mirrored stripes keep their contrast
    assert result.flips["contrast"].tolist() == [True]
    assert result.flips["bright"].tolist() == [False]  # brightness survives every check
    assert result.stable is (not result.flips[ENSEMBLE][0])
    steady = stability(stand_in_detector(0.5), np.full((2, 32, 32, 3), 200, np.uint8))
    assert steady.stable and steady.flips[ENSEMBLE].tolist() == [False, False]


# --- batch scanning -------------------------------------------------------------------------


def _mixed_folder(root: Path) -> Path:
    files = {f"nested/{name}": data for name, (data, _) in bad_input_battery().items()}
    files.update({"good_a.jpg": encode(random_image(1), ".jpg"),
                  "good_b.png": encode(random_image(2, (64, 48)), ".png"),
                  "notes.txt": b"not scanned: not an image suffix"})
    write_tree(root, files)
    write_zip(root / "more.zip", {"inner/c.jpg": encode(random_image(3), ".jpg"),
                                  "inner/bad.jpg": b"garbage", "readme.md": b"skip"})
    return root


def test_iter_image_files_recurses_folders_and_zips(tmp_path):
    found = {Path(p).name: problem for p, _, problem in
             iter_image_files([_mixed_folder(tmp_path / "in"), tmp_path / "gone.jpg"])}
    assert "notes.txt" not in found and "readme.md" not in found
    assert {"c.jpg", "bad.jpg", "good_a.jpg", "good_b.png", "huge.png"} <= set(found)
    assert found["gone.jpg"] == "no such file or folder"
    uploads = list(iter_uploads([("a.zip", (tmp_path / "in" / "more.zip").read_bytes()),
                                         ("x.jpg", b"x" * 10)]))
    assert [name for name, _, _ in uploads] == ["a.zip/inner/bad.jpg", "a.zip/inner/c.jpg", "x.jpg"]
    broken = list(iter_uploads([("broken.zip", b"PK not really")]))
    assert broken[0][1] is None and "not a readable zip" in broken[0][2]


def test_oversized_files_are_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(scanning, "MAX_FILE_BYTES", 100)
    (tmp_path / "big.jpg").write_bytes(b"x" * 101)
    [(path, data, problem)] = iter_image_files([tmp_path / "big.jpg"])
    assert data is None and problem.startswith("file too large")


def test_scan_rows(tmp_path):
    detector = stand_in_detector(0.5)
    rows = scan(iter_image_files([_mixed_folder(tmp_path / "in")]), detector)
    by_name = {Path(r["path"]).name: r for r in rows}
    for name, (_, expected) in bad_input_battery().items():
        row = by_name[name]
        if expected is None:
            assert row["status"] == "ok" and row["message"] == "", name
            assert 0 <= row["p_fake_ensemble"] <= 1
            assert row["verdict"] in ("FAKE", "REAL", "inconclusive", ood.INCONCLUSIVE)
            assert row["stability"] in ("stable", "unstable")
            assert (row["verdict"] == ood.INCONCLUSIVE) == bool(row["ood_reason"])
        else:
            assert row["status"] == "error" and expected in row["message"], name
            assert row["p_fake_bright"] is None and row["verdict"] == ""
    good = by_name["good_b.png"]
    assert (good["format"], good["width"], good["height"]) == ("PNG", 48, 64)
    assert good["p_fake_ensemble"] == pytest.approx(
        (good["p_fake_bright"] + good["p_fake_contrast"]) / 2, abs=1e-5)


def _shipped_models() -> list[str]:
    names = sorted(p.stem for p in MODELS_DIR.glob("*.json")
                   if "metrics" in json.loads(p.read_text()))
    if not names:
        pytest.skip("no evaluated models in models/")
    return names


@pytest.mark.slow
def test_cli_scans_a_folder_into_csv(tmp_path):
    folder = _mixed_folder(tmp_path / "in")
    out = tmp_path / "scan.csv"
    result = cli("predict", folder, "--model", "reference_cnn", "--model", "logreg",
                     "--csv", out)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0])[:7] == ["path", "bytes", "format", "width", "height", "status", "message"]
    assert {"p_fake_reference_cnn", "p_fake_logreg", "p_fake_ensemble", "verdict", "ood_ratio",
            "ood_reason", "stability"} <= set(rows[0])
    battery = bad_input_battery()
    assert len(rows) == len(battery) + 2 + 2  # + 2 good files + 2 images in the zip
    by_name = {Path(r["path"]).name: r for r in rows}
    for name, (_, expected) in battery.items():
        assert by_name[name]["status"] == ("ok" if expected is None else "error"), name
        if expected is not None:
            assert expected in by_name[name]["message"]
    good = by_name["good_a.jpg"]
    p = float(good["p_fake_ensemble"])
    assert p == pytest.approx((float(good["p_fake_reference_cnn"]) +
                               float(good["p_fake_logreg"])) / 2, abs=1e-5)
    # a JPEG at quality 95 is off-distribution: inconclusive, with the reason
    assert good["ood_reason"] == "JPEG quality 95: the models only learned JPEG q75"
    assert good["verdict"] == ood.INCONCLUSIVE
    assert by_name["bad.jpg"]["status"] == "error"
    assert "13 files: 8 scored" in result.stderr and "5 errors" in result.stderr


def test_cli_refuses_to_overwrite_and_unknown_models(tmp_path):
    out = tmp_path / "scan.json"
    out.write_text("keep me")
    result = cli("predict", tmp_path, "--model", "logreg", "--json", out)
    assert result.returncode == 2 and "exists" in result.stderr
    assert out.read_text() == "keep me"
    result = cli("predict", tmp_path, "--model", "nope")
    assert result.returncode == 2 and "unknown model(s) ['nope']" in result.stderr


@pytest.mark.slow
def test_cli_json_with_the_scanner_and_every_shipped_model(tmp_path):
    """A scan uses the scanner unless told otherwise; --model picks any shipped models."""
    names = _shipped_models()
    write_tree(tmp_path / "in", {"a.jpg": encode(random_image(5), ".jpg")})
    result = cli("predict", tmp_path / "in", "--json", tmp_path / "default.json",
                     "--no-stability")
    assert result.returncode == 0, result.stderr
    [row] = json.loads((tmp_path / "default.json").read_text())
    assert {k for k in row if k.startswith("p_fake_")} == {"p_fake_scanner", "p_fake_ensemble"}
    assert row["p_fake_ensemble"] == pytest.approx(row["p_fake_scanner"], abs=1e-6)
    every = [arg for n in names for arg in ("--model", n)]
    result = cli("predict", tmp_path / "in", "--json", tmp_path / "out.json",
                     "--no-stability", *every)
    assert result.returncode == 0, result.stderr
    [row] = json.loads((tmp_path / "out.json").read_text())
    assert {f"p_fake_{n}" for n in names} <= set(row) and "stability" not in row
    assert all(0 <= row[f"p_fake_{n}"] <= 1 for n in names)


# --- heat maps on a tiny trained CNN ----------------------------------------------------------


TWO_IMAGES = [random_image(1), random_image(2)]


@pytest.fixture(scope="module")
def explainer(tiny_cnn):
    from core.detect.explain import Explainer

    return Explainer(tiny_cnn[0])


@pytest.mark.parametrize("method", ["Grad-CAM", "Grad-CAM++", "Score-CAM (faster)", "SmoothGrad"])
def test_heatmaps_depend_on_the_image(explainer, method):
    from core.data.imageio import png_bytes
    from core.detect.explain import overlay

    assert explainer.default_layer == "last_conv" and explainer.layers[-1] == "last_conv"
    first, second = (explainer.heatmap(image, method) for image in TWO_IMAGES)
    for heat in (first, second):
        assert heat.shape == (32, 32) and heat.dtype == np.float32
        assert heat.min() >= 0 and heat.max() <= 1 and heat.max() > 0.5
    assert np.abs(first - second).mean() > 0.05
    shown = overlay(np.repeat(np.repeat(TWO_IMAGES[0], 8, 0), 8, 1), first, opacity=0.5)
    assert shown.shape == (256, 256, 3)
    assert decode_image(png_bytes(shown)).tolist() == shown.tolist()


def test_heatmap_layer_and_target(explainer):
    image = TWO_IMAGES[1]
    early = explainer.heatmap(image, "Grad-CAM", layer=explainer.layers[0])
    assert early.shape == (32, 32)
    fake_side = explainer.heatmap(image, "Grad-CAM", target="FAKE")
    real_side = explainer.heatmap(image, "Grad-CAM", target="REAL")
    assert np.abs(fake_side - real_side).mean() > 0.05
    with pytest.raises(ValueError, match="no convolution layer"):
        explainer.heatmap(image, "Grad-CAM", layer="dense")
