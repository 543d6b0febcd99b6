"""AppTest: every page with no dataset, a tiny generated one and the real CIFAKE."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import (
    REPO_ROOT,
    bad_input_battery,
    cifake_files,
    free_port,
    grid_captions,
    open_tab,
    write_tree,
)
from streamlit.testing.v1 import AppTest

APP = str(REPO_ROOT / "streamlit_app.py")
COMMITTED = json.loads((REPO_ROOT / "data" / "summary" / "stats.json").read_text())


def make_tiny_dataset(folder: Path) -> Path:
    """30 CIFAKE-like JPEGs (3 per class) in each of train/test x REAL/FAKE, plus one text file
    in train/REAL that must be skipped."""
    return write_tree(folder, {**cifake_files(30), "train/REAL/notes (3).jpg": b"not an image"})


def app(data_path: str | None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    if data_path is not None:
        at.session_state["data_path"] = data_path
    return at


def texts(at: AppTest, kind: str) -> str:
    return " ".join(str(e.value) for e in at.get(kind))


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def array(value) -> np.ndarray:
    """A plotly JSON array: a plain list or plotly's base64 typed array."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value)


PIXEL_CHARTS = 5  # the Pixels & colour tab: intensities and four colour histograms


def open_dataset_page(at: AppTest, tab: str | None = None) -> AppTest:
    """The Dataset page, on ``tab`` when given (only the open tab runs)."""
    if tab is not None:
        open_tab(at, tab)
    at.run()
    at.switch_page("pages/dataset.py")
    return at.run()


def test_home_without_data_shows_committed_counts_and_how_to_get_data(tmp_path):
    at = app(str(tmp_path)).run()
    assert not at.exception
    assert "Dataset not found" in texts(at, "warning")
    assert "No images under REAL/ or FAKE/" in texts(at, "warning")
    assert "kaggle.com/datasets/birdy654" in texts(at, "markdown")
    assert metrics(at) == {
        "Train REAL": "50,000", "Train FAKE": "50,000", "Test REAL": "10,000",
        "Test FAKE": "10,000", "Total": "120,000",
    }


def test_home_with_missing_path_says_so(tmp_path):
    at = app(str(tmp_path / "nowhere.zip")).run()
    assert not at.exception
    assert "No file or folder at" in texts(at, "warning")


def test_dataset_page_without_data_uses_committed_statistics(tmp_path):
    at = open_dataset_page(app(str(tmp_path)), "Duplicates & leak")
    assert not at.exception
    assert "No dataset loaded" in texts(at, "info")
    assert "need the CIFAKE images" in texts(at, "info")
    assert metrics(at) == {
        "Duplicate groups": f"{COMMITTED['duplicates']['duplicate_groups']:,}",
        "Redundant copies": f"{COMMITTED['duplicates']['redundant_copies']:,}",
        "Test images leaked from train": "378",
        "Leak-free test images": "19,622",
    }
    # every statistics tab draws from the committed numbers
    charts = {}
    for tab in ("Pixels & colour", "Blur & background", "Box plots", "Spectrum", "Embedding map"):
        open_tab(at, tab)
        at.run()
        assert not at.exception
        charts[tab] = at.get("plotly_chart")
        assert grid_captions(at) == []
    assert [len(c) for c in charts.values()] == [5, 2, 2, 2, 1]
    # the committed embedding is drawn with all 2,000 points
    scatter = json.loads(charts["Embedding map"][0].proto.spec)
    assert sum(len(array(trace["x"])) for trace in scatter["data"]) == 2000


def test_dataset_page_class_filter_changes_statistics(tmp_path):
    at = open_dataset_page(app(str(tmp_path)), "Pixels & colour")
    before = at.get("plotly_chart")[0].proto.spec
    at.selectbox(key="class").set_value("ship").run()
    assert not at.exception
    after = at.get("plotly_chart")[0].proto.spec
    assert before != after
    ship = COMMITTED["groups"]["ship"]["REAL"]["pixel_hist"][0]
    spec = json.loads(after)
    share = array(spec["data"][0]["y"])
    assert share == pytest.approx(np.asarray(ship) / sum(ship), rel=1e-6)


def test_dataset_page_with_tiny_folder_shows_images_and_skipped_file(tmp_path):
    folder = make_tiny_dataset(tmp_path / "tiny")
    at = open_dataset_page(app(str(folder)))
    assert not at.exception
    assert "120 images at 32x32" in texts(at, "caption")
    assert "1 file(s) skipped" in " ".join(e.label for e in at.expander)
    assert len(grid_captions(at)) == 48  # the sample grid (120 images available, 48 shown)
    # reshuffling draws a different sample (and keeps its seed in the URL)
    first = grid_captions(at)
    at.button[0].click().run()
    assert grid_captions(at) != first and at.query_params["seed"] == "1"
    at.selectbox(key="label").set_value("FAKE").run()
    captions = grid_captions(at)
    assert captions and all(c.startswith("FAKE") for c in captions)
    open_tab(at, "Duplicates & leak")
    at.run()
    assert not at.exception
    assert metrics(at)["Test images leaked from train"] == "0"


@pytest.mark.real_data
@pytest.mark.slow
def test_home_and_dataset_with_real_cifake(cifake_zip):
    at = app(str(cifake_zip)).run()
    assert not at.exception
    assert "Dataset found" in texts(at, "success")
    assert metrics(at)["Total"] == "120,000"
    at.switch_page("pages/dataset.py")
    at.run()
    assert not at.exception
    assert "120,000 images at 32x32" in texts(at, "caption")
    assert "the CIFAKE of the committed summary" in texts(at, "caption")
    assert len(grid_captions(at)) == 48
    open_tab(at, "Duplicates & leak")
    at.run()
    assert metrics(at)["Test images leaked from train"] == "378"
    assert len(grid_captions(at)) == 24  # 12 leaked pairs, read from the zip by path
    open_tab(at, "Pixels & colour")
    at.run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == PIXEL_CHARTS


def test_model_comparison_page_shows_the_committed_leaderboard(tmp_path):
    leaderboard = json.loads((REPO_ROOT / "models" / "leaderboard.json").read_text())
    at = app(str(tmp_path)).run()
    at.switch_page("pages/models.py")
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["model"]) == [row["name"] for row in leaderboard]
    for row in leaderboard:
        shown = table.loc[table["model"] == row["name"]].iloc[0]
        assert shown["test acc %"] == pytest.approx(100 * row["test_accuracy"])
        assert shown["leak-free acc %"] == pytest.approx(100 * row["leakfree_accuracy"])
        assert shown["AUROC"] == pytest.approx(row["test_auroc"])
    # per model: flagged off-distribution and stable shares on the leak-free test set
    stability = json.loads((REPO_ROOT / "models" / "stability.json").read_text())["models"]
    [limits] = [d.value.set_index("model") for d in at.dataframe if "stable %" in d.value]
    assert limits.loc["flagship", "stable %"] == pytest.approx(
        100 * (1 - stability["flagship"]["unstable_share"]))
    assert 0 < limits.loc["flagship", "flagged off-distribution %"] <= 5
    # only the open tab runs: the model card's calibration, then each tab's charts when opened
    assert len(at.get("plotly_chart")) == 1
    for tab, charts in (("ROC & PR", 2), ("Confusion & calibration", 5 + 1), ("Per class", 1)):
        open_tab(at, tab).run()
        assert not at.exception
        assert len(at.get("plotly_chart")) == charts, tab
    at.multiselect(key="models").set_value([leaderboard[0]["name"]])
    open_tab(at, "ROC & PR").run()
    assert not at.exception
    roc = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert roc["data"][0]["name"].startswith(leaderboard[0]["name"])
    open_tab(at, "Model cards").run()
    card_calibration = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [t["name"].split(" (")[0] for t in card_calibration["data"]] == \
        ["perfect", "before", "after"]


def test_model_card_shows_a_report(tmp_path):
    """The model card of the flagship states its command, metrics with their leak-free twins,
    calibration before and after, robustness and speed, as its report says."""
    report = json.loads((REPO_ROOT / "models" / "flagship.json").read_text())
    at = app(str(tmp_path)).run()
    at.switch_page("pages/models.py")
    at.run()
    at.selectbox(key="card").set_value("flagship").run()
    assert not at.exception
    sections = [m.value.strip("*") for m in at.markdown if m.value.startswith("**")]
    for section in ("What it is", "Data and training", "Metrics (test, with the leak-free twin)",
                    "Calibration", "Speed"):
        assert section in sections
    assert any(s.startswith("Robustness (") for s in sections)
    cells = {row: str(value) for table in at.table
             for row, value in table.value.iloc[:, 0].items()}
    test, leakfree = report["metrics"]["test"], report["metrics"]["leakfree_test"]
    assert cells["Accuracy at its threshold"] == (
        f"{100 * test['at_threshold']['accuracy']:.2f} % (leak-free "
        f"{100 * leakfree['at_threshold']['accuracy']:.2f} %)")
    assert cells["ECE on test"] == (f"{test['uncalibrated']['ece']:.4f} before, "
                                    f"{test['ece']:.4f} after")
    assert report["training"]["command"] in cells["Training command"]


@pytest.mark.slow
def test_check_page_without_data_explains_inputs(tmp_path):
    at = app(str(tmp_path)).run()
    at.switch_page("pages/predict.py")
    at.run()
    assert not at.exception
    assert "Upload an image" in texts(at, "info")
    at.segmented_control(key="origin").set_value("Random test image").run()
    assert not at.exception
    assert "To see images, get CIFAKE" in texts(at, "markdown")


@pytest.mark.real_data
@pytest.mark.slow
def test_check_page_random_test_image_with_real_cifake(cifake_zip):
    from core.data.dataset import load_dataset
    from core.models.artifacts import list_reports, load_predictor

    at = app(str(cifake_zip)).run()
    at.switch_page("pages/predict.py")
    at.run()
    at.segmented_control(key="origin").set_value("Random test image").run()
    at.button(key="image_random_1").click().run()  # a random FAKE
    assert not at.exception
    dataset = load_dataset(cifake_zip)
    row = np.flatnonzero(dataset.splits == 1)[int(at.query_params["image"])]  # kept in the URL
    assert dataset.splits[row] == 1 and dataset.labels[row] == 1
    shown_verdict = re.search(r"Ensemble verdict: :\w+\[([^\]]+)\]", texts(at, "markdown")).group(1)
    # an off-distribution input abstains; the truth is told against what the models would say
    verdict = (re.search(r"The models would say (\w+)", texts(at, "markdown")).group(1)
               if shown_verdict.startswith("inconclusive:") else shown_verdict)
    told = texts(at, "success" if verdict == "FAKE" else "error")  # right or not right
    assert "True label: **FAKE**" in told
    # the bar chart shows each model's own P(FAKE) for this image
    bars = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    shown = dict(zip(bars["y"], array(bars["x"])))
    names = [r["name"] for r in list_reports() if "metrics" in r]
    assert set(names) < set(shown)
    for name in ("reference_cnn", "logreg"):
        expected = load_predictor(name).predict(dataset.images[row:row + 1])[0]
        assert shown[name] == pytest.approx(expected, abs=1e-5)
    # heat maps (two methods by default) and the stability table for every model + ensemble
    assert len(at.get("image")) >= 2 + 2 + 4
    assert "Off-distribution ratio" in texts(at, "caption")
    table = at.dataframe[-1].value
    assert len(table) == len(names) + 1
    assert set(table["verdict holds"]) <= {"stable", "unstable"}
    assert (table["verdict holds"] == "unstable").tolist() == (table["flipped by"] != "").tolist()
    members = re.search(r"the mean of (.+) \(decided at 0.5\)", texts(at, "markdown")).group(1)
    mean = np.mean([shown[n] for n in members.split(", ")])
    assert shown["ensemble"] == pytest.approx(mean, abs=1e-5)
    assert table.loc[table["model"] == "ensemble", "original"].iloc[0] == pytest.approx(mean,
                                                                                      abs=1e-5)


@pytest.mark.slow
def test_lab_pages_without_data_explain_what_they_need(tmp_path):
    for page, kind, expected, tab in [
            ("pages/filters.py", "markdown", "Gray World", None),
            ("pages/robustness.py", "title", "Robustness lab", "Try one image"),
            ("pages/adversarial.py", "markdown", "FGSM", None),
            ("pages/generalization.py", "markdown", "never saw", None),
            ("pages/quiz.py", "title", "Human vs machine", None)]:
        at = app(str(tmp_path)).run()  # a visitor opening the page (pages share URL names)
        at.switch_page(page)
        if tab:
            open_tab(at, tab)
        at.run()
        assert not at.exception, page
        assert expected in texts(at, kind), page
        assert "To see images, get CIFAKE" in texts(at, "markdown"), page


@pytest.mark.real_data
@pytest.mark.slow
def test_robustness_slider_moves_the_scores(cifake_zip):
    from core.data.dataset import load_dataset
    from core.data.perturb import blur
    from core.data.quality import leakfree_test_mask
    from core.models.artifacts import load_predictor

    at = app(str(cifake_zip)).run()
    at.switch_page("pages/robustness.py")
    at.run()
    open_tab(at, "Try one image")
    at.run()
    at.selectbox(key="change").set_value("blur").run()
    at.slider(key="blur").set_value(2.0).run()
    assert not at.exception
    dataset = load_dataset(cifake_zip)
    leakfree = np.flatnonzero(leakfree_test_mask(dataset.hashes, dataset.splits))
    image = dataset.images[leakfree[int(at.query_params["image"])]]  # kept in the URL
    bars = json.loads(at.get("plotly_chart")[-1].proto.spec)["data"][0]
    shown = dict(zip(bars["y"], array(bars["x"])))
    expected = load_predictor("reference_cnn").predict(blur(image[None], 2.0))[0]
    assert shown["reference_cnn"] == pytest.approx(expected, abs=1e-5)
    assert "Verdicts changed" in texts(at, "markdown")


@pytest.mark.real_data
@pytest.mark.slow
def test_adversarial_attack_flips_a_fake(cifake_zip):
    from core.data.dataset import load_dataset
    from core.data.quality import leakfree_test_mask
    from core.labs.adversarial import attack_image
    from core.models.artifacts import load_predictor

    dataset = load_dataset(cifake_zip)
    [row] = dataset.rows_of(["test/FAKE/10.jpg"])  # a leak-free test FAKE
    expected = attack_image(load_predictor("reference_cnn"), dataset.images[row], 1, "fgsm", 8.0)
    number = int(np.searchsorted(np.flatnonzero(leakfree_test_mask(dataset.hashes,
                                                                   dataset.splits)), row))
    at = app(str(cifake_zip))
    at.run()
    at.switch_page("pages/adversarial.py")
    at.query_params["image"] = str(number)  # a link to this image instead of a random draw
    at.run()
    at.selectbox(key="model").set_value("reference_cnn").run()
    at.slider(key="epsilon").set_value(8.0).run()
    assert not at.exception
    assert metrics(at) == {"True label": "FAKE · airplane",
                           "P(FAKE) before: FAKE": f"{expected.p_before:.3f}",
                           "P(FAKE) after: REAL": f"{expected.p_after:.3f}"}
    assert "flipped reference_cnn's verdict from FAKE to REAL" in texts(at, "error")


@pytest.mark.real_data
@pytest.mark.slow
def test_quiz_round_is_scored_and_stored(cifake_zip, tmp_path, monkeypatch):
    from core.data.dataset import load_dataset
    from core.labs.quiz import make_round
    from core.labs.quiz_store import QuizStore

    monkeypatch.setenv("CIFAKE_QUIZ_DB", str(tmp_path / "quiz.sqlite"))
    at = app(str(cifake_zip)).run()
    at.switch_page("pages/quiz.py")
    at.run()
    at.text_input[0].input("Ada")
    at.text_input[1].input("lesson1")
    at.slider[0].set_value(6)
    at.button[0].click().run()  # Start round (the form's submit button)
    assert not at.exception
    expected = make_round(load_dataset(cifake_zip), "LESSON1", 6)
    for i in range(6):
        at.button(key=f"quiz_fake_{i}").click().run()  # answer "AI" every time
    assert not at.exception
    [stored] = QuizStore(tmp_path / "quiz.sqlite").rounds()
    assert stored["player"] == "Ada" and stored["code"] == "LESSON1"
    assert stored["truth"] == expected.labels.tolist() and stored["answers"] == [1] * 6
    assert stored["accuracy"] == pytest.approx(expected.labels.mean())
    assert set(stored["models"]) >= {"reference_cnn", "logreg"}
    assert f"You scored {expected.labels.mean():.0%}" in texts(at, "subheader")



@pytest.mark.slow
def test_quiz_keeps_a_round_the_database_cannot_store(tmp_path, monkeypatch):
    """With the quiz database down the finished round is shown, kept in the session and
    stored by "Retry saving" once a database answers; the leaderboard says it is unavailable."""
    from core.labs.quiz_store import QuizStore

    port = free_port()  # nothing listens on it
    monkeypatch.setenv("CIFAKE_QUIZ_DB", f"postgresql://quiz:hunter2@127.0.0.1:{port}/quiz")
    at = app(str(make_tiny_dataset(tmp_path / "data"))).run()
    at.switch_page("pages/quiz.py")
    at.run()
    assert "The leaderboard is unavailable" in texts(at, "warning")
    at.slider[0].set_value(6)
    at.button[0].click().run()  # Start round
    for i in range(6):
        at.button(key=f"quiz_fake_{i}").click().run()
    assert not at.exception
    shown = texts(at, "error") + texts(at, "warning")
    assert "Your round is not stored yet" in shown and "check that the server is running" in shown
    assert "hunter2" not in shown and "You scored" in texts(at, "subheader")
    monkeypatch.setenv("CIFAKE_QUIZ_DB", str(tmp_path / "quiz.sqlite"))
    at.button(key="quiz_retry").click().run()
    assert not at.exception and "not stored yet" not in texts(at, "error")
    [stored] = QuizStore(tmp_path / "quiz.sqlite").rounds()
    assert stored["answers"] == [1] * 6 and stored["n"] == 6
    assert "1 rounds stored in" in texts(at, "caption")

def _battery_uploads():
    return [(name, data, "application/octet-stream")
            for name, (data, _) in bad_input_battery().items()]


@pytest.mark.slow
def test_check_page_bad_input_battery(tmp_path):
    at = app(str(tmp_path)).run()
    at.switch_page("pages/predict.py")
    at.run()
    at.file_uploader(key="check_upload").set_value(_battery_uploads()).run()
    assert not at.exception
    errors = [str(e.value) for e in at.error]
    battery = bad_input_battery()
    for name, (_, expected) in battery.items():
        mentioned = [e for e in errors if e.startswith(name.replace("_", "\\_") + ":")]
        if expected is None:
            assert not mentioned, name
        else:
            assert len(mentioned) == 1 and expected in mentioned[0], (name, errors)
    readable = [n for n, (_, e) in battery.items() if e is None]
    picker = at.selectbox(key="check_pick")
    assert picker.options == readable
    assert "Ensemble verdict" in texts(at, "markdown")
    assert "What the models learned from" in texts(at, "warning")  # next to the verdict
    picker.set_value(readable.index("sixteen_bit.png")).run()
    assert not at.exception
    assert "PNG" in texts(at, "markdown") and "8x8" in texts(at, "markdown")


@pytest.mark.slow
def test_check_page_abstains_on_a_large_png(tmp_path):
    from helpers import encode, random_image

    at = app(str(tmp_path))
    at.default_timeout = 60
    at.run()
    at.switch_page("pages/predict.py")
    at.run()
    photo = encode(random_image(3, (300, 400)), ".png")
    at.file_uploader(key="check_upload").set_value([("photo.png", photo, "image/png")]).run()
    assert not at.exception
    assert "Ensemble verdict: :gray[inconclusive: outside what the models learned]" in texts(
        at, "markdown")
    why = texts(at, "error")
    assert "400x300 photo: the models only learned 32x32 images" in why
    assert "PNG file: the models only learned JPEG q75" in why
    assert "Off-distribution ratio" in texts(at, "caption")


@pytest.mark.slow
def test_batch_scan_page_reports_every_file(tmp_path):
    at = app(str(tmp_path)).run()
    at.switch_page("pages/scan.py")
    at.run()
    at.file_uploader(key="scan_upload").set_value(_battery_uploads()).run()
    at.button[0].click().run()  # Scan
    assert not at.exception
    table = at.dataframe[0].value
    statuses = dict(zip(table["path"], table["status"]))
    for name, (_, expected) in bad_input_battery().items():
        assert statuses[name] == ("ok" if expected is None else "error"), name
    assert metrics(at)["Errors"] == "4"
    ok = table[table["status"] == "ok"]
    assert {"ood_ratio", "ood_reason"} <= set(table.columns)
    # the battery's readable files are PNGs, tiny, odd-sized or re-saved: each says why
    assert (ok["ood_reason"] != "").all()
    assert (ok["verdict"] == "inconclusive: outside what the models learned").all()
    assert metrics(at)["Off-distribution"] == str(len(ok))
    assert (table.loc[table["status"] == "ok", "p_fake_ensemble"].between(0, 1)).all()


@pytest.mark.slow
def test_batch_scan_page_evaluates_own_labelled_images(tmp_path):
    from helpers import write_zip

    zipped = write_zip(tmp_path / "mine.zip", cifake_files(4)).read_bytes()
    at = app(str(tmp_path))
    at.default_timeout = 60
    at.run()
    at.switch_page("pages/scan.py")
    at.run()
    at.file_uploader(key="own_upload").set_value([("mine.zip", zipped, "application/zip")]).run()
    at.button(key="own_evaluate").click().run()
    assert not at.exception
    assert "**16** of 16 images scored (8 REAL, 8 FAKE)" in texts(at, "markdown")
    table = at.dataframe[0].value
    assert list(table["model"]) == ["scanner", "ensemble"]
    assert table["CIFAKE test accuracy"].iloc[0] == pytest.approx(0.973, abs=0.005)
    assert len(at.get("plotly_chart")) == 1  # the ROC curves


NO_TENSORFLOW_SCRIPT = """
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=300)
at.session_state["data_path"] = sys.argv[2]
at.session_state["tab"] = "Embedding map"
at.run()
at.switch_page("pages/dataset.py")
at.run()
space = at.selectbox(key="space")
before = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
space.set_value(next(s for s in space.options if s.startswith("CNN: lenet"))).run()
print(json.dumps({"exceptions": [str(e.value) for e in at.exception], "options": space.options,
                  "before": before, "after": "tensorflow" in sys.modules,
                  "embedded": at.session_state["space"]}))
"""


@pytest.mark.slow
def test_dataset_page_imports_no_tensorflow_until_a_cnn_space_is_picked(tmp_path):
    folder = make_tiny_dataset(tmp_path / "tiny")
    result = subprocess.run([sys.executable, "-c", NO_TENSORFLOW_SCRIPT, APP, str(folder)],
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "CIFAKE_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout.splitlines()[-1])
    assert shown["exceptions"] == []
    assert shown["before"] == []  # every CNN space is listed, none loaded
    cnns = [r["name"] for r in json.loads((REPO_ROOT / "models" / "leaderboard.json").read_text())
            if r["family"] == "cnn"]
    assert sorted(shown["options"]) == sorted(["pixels", "features", *(f"CNN: {n}" for n in cnns)])
    assert shown["after"] and shown["embedded"].startswith("cnn-lenet-")


def summary_of(folder: Path):
    """The statistics ``python -m core stats`` would commit for ``folder``."""
    from core.analysis.features import feature_table
    from core.analysis.stats import compute_stats
    from core.data.dataset import load_dataset
    from core.data.sources import listing_fingerprint, scan_source

    dataset = load_dataset(folder, cache_dir=None)
    stats = compute_stats(dataset, feature_table(dataset.images))
    stats.meta["listing_fingerprint"] = listing_fingerprint(scan_source(folder))
    return stats


def test_dataset_page_with_the_summary_data_decodes_nothing(tmp_path, monkeypatch):
    """The committed summary's own data: every tab draws from the summary and reads only the
    images it shows; nothing is decoded in full, no feature computed."""
    from pages import _data

    folder = make_tiny_dataset(tmp_path / "tiny")
    summary = summary_of(folder)
    heavy = []
    monkeypatch.setattr(_data, "committed_stats", lambda: summary)
    monkeypatch.setattr(_data, "load_dataset", lambda *a, **k: heavy.append("decode"))
    monkeypatch.setattr(_data, "dataset_features", lambda *a, **k: heavy.append("features"))
    at = open_dataset_page(app(str(folder)))
    assert not at.exception
    assert "the CIFAKE of the committed summary" in texts(at, "caption")
    assert len(grid_captions(at)) == 48  # the sample grid, read file by file
    open_tab(at, "Pixels & colour")
    at.run()
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    expected = np.asarray(summary.group("all", "REAL")["pixel_hist"][0])
    assert array(spec["data"][0]["y"]) == pytest.approx(expected / expected.sum(), rel=1e-6)
    open_tab(at, "Blur & background")
    at.run()
    assert len(grid_captions(at)) == 24  # the top background scores, by path
    assert not at.exception and heavy == []


def test_dataset_page_with_other_data_computes_its_own_charts(tmp_path, monkeypatch):
    """Same file names as the summary's data but one file changed: the page decodes this data
    and draws its own statistics in the tab that needs them."""
    from pages import _data

    folder = make_tiny_dataset(tmp_path / "tiny")
    summary = summary_of(folder)
    changed = folder / "train" / "REAL" / "0.jpg"
    changed.write_bytes(changed.read_bytes() + b"\0")
    monkeypatch.setattr(_data, "committed_stats", lambda: summary)
    at = open_dataset_page(app(str(folder)), "Box plots")
    assert not at.exception
    assert "the CIFAKE of the committed summary" not in texts(at, "caption")
    assert "120 images at 32x32" in texts(at, "caption")
    assert len(at.get("plotly_chart")) == 2


@pytest.mark.slow
def test_generalization_lab_matrix_and_a_fake_made_on_the_spot(tmp_path):
    from core.labs.generalization import REPORT
    from core.models.artifacts import load_predictor, read_json
    from core.models.generators import load_generator

    at = app(str(tmp_path))
    at.default_timeout = 120
    open_tab(at, "Cross-generator matrix")
    at.run()
    at.switch_page("pages/generalization.py")
    at.run()
    assert not at.exception
    report = read_json(REPORT)
    heat = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    assert np.allclose(array(heat["z"]).reshape(len(report["matrix"]), -1),
                       [[row["tests"][s]["auroc"] for s in report["sources"]]
                        for row in report["matrix"]])
    assert "on sources it never saw" in texts(at, "markdown")
    # generate a fake: every model judges exactly the GAN's image for that seed
    open_tab(at, "Generate a fake now")
    at.run()
    at.button(key="gen_now").click().run()
    assert not at.exception
    seed = int(at.query_params["seed"])  # kept in the URL
    image = load_generator("gan").sample(1, seed=seed)
    bars = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    shown = dict(zip(bars["y"], array(bars["x"])))
    assert shown["scanner"] == pytest.approx(load_predictor("scanner").predict(image)[0], abs=1e-5)
    assert f"--seed {seed}" in texts(at, "caption")
