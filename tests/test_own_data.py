"""Evaluate on your own images: a tiny generated REAL/FAKE folder or zip, in core, on the command
line and (tests/test_app.py) on the Batch scan page."""

from __future__ import annotations

import json

import pytest
from helpers import (
    cifake_files,
    cli,
    encode,
    random_image,
    stand_in_detector,
    write_tree,
    write_zip,
)

from core.detect.detector import ENSEMBLE
from core.errors import DataError
from core.labs.own_data import evaluate_on, evaluate_uploads, results_frame


def _own_folder(root):
    files = cifake_files(4)
    files["mine/REAL/photo.png"] = encode(random_image(9, (200, 300)), ".png")
    files["mine/FAKE/broken.jpg"] = b"not an image"
    return write_tree(root, files)


def test_evaluate_on_a_generated_folder(tmp_path):
    report = evaluate_on(_own_folder(tmp_path / "own"), stand_in_detector(),
                         models_dir=tmp_path)
    assert (report["images"], report["scored"]) == (18, 17)
    assert report["counts"] == {"REAL": 9, "FAKE": 8}
    assert report["errors"][0]["path"] == "mine/FAKE/broken.jpg"
    assert report["flag_rate"] == 1.0  # helpers' JPEGs are q95, the photo a large PNG
    assert set(report["models"]) == {"bright", "contrast", ENSEMBLE}
    for m in report["models"].values():
        assert 0 <= m["accuracy"] <= 1 and 0 <= m["auroc"] <= 1
        assert m["accuracy_unflagged"] is None  # nothing is in-distribution
        assert m["cifake_test_accuracy"] is None  # no report for the stand-ins
        assert len(m["mistakes"]) <= 5
        margins = [abs(x["p_fake"] - 0.5) for x in m["mistakes"]]
        assert margins == sorted(margins, reverse=True)  # most confident first


def test_evaluate_on_needs_real_and_fake_folders(tmp_path):
    write_tree(tmp_path / "flat", {"a.jpg": encode(random_image(0), ".jpg")})
    with pytest.raises(DataError, match="REAL/ or FAKE/"):
        evaluate_on(tmp_path / "flat", stand_in_detector())


def test_cli_evaluate_on(tmp_path):
    folder = _own_folder(tmp_path / "own")
    result = cli("evaluate", "--on", folder, "--model", "logreg", "--json",
                     tmp_path / "out.json")
    assert result.returncode == 0, result.stderr
    assert "17 of 18 images scored (9 REAL, 8 FAKE)" in result.stdout
    assert "logreg" in result.stdout and "unreadable: mine/FAKE/broken.jpg" in result.stderr
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["models"]["logreg"]["cifake_test_accuracy"] == pytest.approx(0.679, abs=0.01)
    missing = cli("evaluate", "--on", tmp_path / "nowhere", "--model", "logreg")
    assert missing.returncode == 2 and "error: No file or folder" in missing.stderr
    before = (tmp_path / "out.json").read_text()
    kept = cli("evaluate", "--on", folder, "--model", "logreg", "--json", tmp_path / "out.json")
    assert kept.returncode == 2 and "exists" in kept.stderr
    assert (tmp_path / "out.json").read_text() == before  # the user's file is kept


def test_evaluate_uploads_labels_by_folder(tmp_path):
    zipped = write_zip(tmp_path / "mine.zip", cifake_files(4)).read_bytes()
    loose = ("notes.jpg", encode(random_image(1), ".jpg"))  # not below REAL/ or FAKE/: left out
    report = evaluate_uploads([("mine.zip", zipped), loose], stand_in_detector(),
                              models_dir=tmp_path)
    assert report["counts"] == {"REAL": 8, "FAKE": 8} and report["images"] == 16
    curve = report["models"]["bright"]["roc_curve"]
    assert curve["x"][0] == 0 and curve["x"][-1] == 1
    frame = results_frame(report)
    assert list(frame["model"]) == ["bright", "contrast", ENSEMBLE]
    only_real = {k: v for k, v in cifake_files(4).items() if "/REAL/" in k}
    zipped = write_zip(tmp_path / "real.zip", only_real).read_bytes()
    with pytest.raises(DataError, match="No images below a FAKE/ folder"):
        evaluate_uploads([("real.zip", zipped)], stand_in_detector())
