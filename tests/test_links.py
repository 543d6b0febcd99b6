"""Links that open the same view: every page's state in the URL query string (AppTest), both ways,
and a bad value of each kind falling back with a one-line notice."""

from __future__ import annotations

import json

import pytest
from helpers import REPO_ROOT, cifake_files, grid_captions, write_tree
from streamlit.testing.v1 import AppTest

from pages import _url

APP = str(REPO_ROOT / "streamlit_app.py")
LEADERBOARD = [r["name"] for r in json.loads((REPO_ROOT / "models" / "leaderboard.json")
                                             .read_text())]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    """30 CIFAKE-like JPEGs (3 per class) in each of train/test x REAL/FAKE."""
    return str(write_tree(tmp_path_factory.mktemp("tiny"), cifake_files(30)))


@pytest.fixture(scope="module")
def empty(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("no-data"))


def open_link(data: str, page: str, query: dict) -> AppTest:
    """A visitor opening ``page?query`` (values: a string, or a list for repeated names)."""
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["data_path"] = data
    at.run()
    at.switch_page(f"pages/{page}.py")
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def notices(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning if "The link's" in w.value)


def link(at: AppTest) -> str:
    """The view's link as the sidebar shows it to copy."""
    return at.sidebar.code[-1].value


def browser_query(at: AppTest) -> dict:
    """What a browser's address bar holds after the last run: each URL-bound widget's value as the
    page's frontend writes it (AppTest has no frontend to do so)."""
    def walk(node):
        yield node
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    query = {}
    for node in walk(at._tree):
        name = getattr(getattr(node, "proto", None), "query_param_key", "")
        if name:
            state = node._widget_state
            kind = state.WhichOneof("value")
            value = getattr(state, kind)
            values = list(value.data) if hasattr(value, "data") else [value]
            query[name] = [str(v).lower() if isinstance(v, bool) else
                           f"{v:g}" if isinstance(v, float) else str(v) for v in values]
    for name in ("tab", *at.query_params):  # tabs and the values the app keeps itself
        if name in at.query_params or name in at.session_state:
            query.setdefault(name, [at.query_params.get(name) or at.session_state[name]])
    return {name: values for name, values in query.items() if values}


def round_trip(at: AppTest, data: str, page: str) -> AppTest:
    """The view ``at`` shows, opened again from its URL by another visitor."""
    return open_link(data, page, browser_query(at))


# ---------------------------------------------------------------- the helper itself


def test_a_widget_value_matches_the_url_text_it_came_from():
    assert _url._matches(["2.50"], 2.5, str)
    assert _url._matches(["TRUE"], True, str)
    assert _url._matches(["ship", "cat"], ["ship", "cat"], str)
    assert _url._matches(["All classes"], "all", lambda c: "All classes" if c == "all" else c)
    assert not _url._matches(["zebra"], "all", str)
    assert not _url._matches(["ship", "zebra"], ["ship"], str)  # a list partly refused
    assert not _url._matches(["99"], 3, str)
    assert _url._encode(None, str) == [] and _url._encode([False, 1], str) == ["false", "1"]


# ---------------------------------------------------------------- Dataset


@pytest.mark.slow
def test_dataset_link_restores_the_samples_and_the_other_way(tiny):
    query = {"class": "ship", "split": "test", "label": "FAKE", "count": "24", "seed": "2"}
    at = open_link(tiny, "dataset", query)
    assert at.selectbox(key="class").value == "ship"
    assert [at.selectbox(key=k).value for k in ("split", "label", "count")] == ["test", "FAKE", 24]
    assert grid_captions(at) == ["FAKE · ship"] * 3  # 3 test FAKE ships in the tiny data
    assert notices(at) == ""
    assert link(at).endswith("?class=ship&split=test&label=FAKE&count=24&seed=2")
    # the same view opened again from the link shows the same images
    again = round_trip(at, tiny, "dataset")
    assert grid_captions(again) == grid_captions(at)
    # the other way: set the widgets, and the URL a browser would show opens that view
    at.selectbox(key="class").set_value("cat")
    at.selectbox(key="split").set_value("all")
    at.selectbox(key="count").set_value(96)
    at.button[0].click().run()  # reshuffle: seed 3, kept in the URL by the app
    query = browser_query(at)
    assert query["class"] == ["cat"] and query["count"] == ["96"] and query["seed"] == ["3"]
    again = round_trip(at, tiny, "dataset")
    assert [again.selectbox(key=k).value for k in ("class", "split", "label", "count")] == \
        ["cat", "all", "FAKE", 96]
    assert grid_captions(again) == grid_captions(at)


def test_dataset_link_restores_the_tab_and_the_embedding(empty):
    query = {"tab": "Embedding map", "class": "cat", "method": "PCA", "colour": "class",
             "space": "features"}
    at = open_link(empty, "dataset", query)  # without data: the committed embedding
    assert at.session_state["tab"] == "Embedding map"
    assert [at.selectbox(key=k).value for k in ("class", "space", "method", "colour")] == \
        ["cat", "features", "pca", "class"]
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert chart["layout"]["title"]["text"].startswith("PCA of")
    assert notices(at) == ""


def test_dataset_bad_link_values_fall_back_with_a_notice(tiny):
    query = {"tab": "Nope", "class": "zebra", "count": "7", "label": "%%%", "seed": "abc"}
    at = open_link(tiny, "dataset", query)
    said = notices(at)
    for name, value in query.items():
        assert f"**{name}={value}**" in said, name
    assert at.session_state["tab"] == "Samples"  # an unknown tab: the first
    assert [at.selectbox(key=k).value for k in ("class", "label", "count")] == ["all", "all", 48]
    assert len(grid_captions(at)) == 48
    assert dict(at.query_params) == {}  # refused values leave the URL


# ---------------------------------------------------------------- Model comparison


@pytest.mark.slow
def test_model_comparison_link_restores_models_test_set_and_tab(empty):
    query = {"models": ["scanner", "flagship"], "test": "Leak-free test", "tab": "Drill-down",
             "drill": "flagship", "cell": "FAKE called REAL"}
    at = open_link(empty, "models", query)
    assert at.multiselect(key="models").value == ["scanner", "flagship"]
    assert at.segmented_control(key="test").value == "leakfree_test"
    assert at.session_state["tab"] == "Drill-down"
    assert [at.selectbox(key="drill").value, at.selectbox(key="cell").value] == \
        ["flagship", "FAKE called REAL"]
    assert notices(at) == ""
    at.multiselect(key="models").set_value(["logreg", "scanner"]).run()
    again = round_trip(at, empty, "models")
    assert again.multiselect(key="models").value == ["logreg", "scanner"]
    assert again.session_state["tab"] == "Drill-down"


def test_model_comparison_stale_model_names_fall_back(empty):
    at = open_link(empty, "models", {"models": ["retired_model"], "tab": "Leaderboard"})
    assert at.multiselect(key="models").value == LEADERBOARD[:5]
    assert "**models=retired_model**" in notices(at)
    assert "**tab=Leaderboard**" in notices(at)
    # one known and one unknown: the known one is kept, the notice says what is shown
    at = open_link(empty, "models", {"models": ["scanner", "retired_model"]})
    assert at.multiselect(key="models").value == ["scanner"]
    assert "showing scanner instead" in notices(at)


# ---------------------------------------------------------------- Check an image


@pytest.mark.slow
def test_check_an_image_link_restores_the_test_image_and_settings(tiny):
    query = {"origin": "Random test image", "image": "5", "view": "centre square crop, resized",
             "band": "0.2", "model": "reference_cnn", "methods": ["SmoothGrad"],
             "opacity": "0.8", "colormap": "viridis"}
    at = open_link(tiny, "predict", query)
    assert at.segmented_control(key="origin").value == "Random test image"
    assert at.segmented_control(key="view").value == "crop"
    assert at.slider(key="band").value == pytest.approx(0.2)
    assert at.selectbox(key="model").value == "reference_cnn"
    assert at.multiselect(key="methods").value == ["SmoothGrad"]
    assert at.selectbox(key="colormap").value == "viridis"
    assert "Test image no. 5 of 60 test images" in " ".join(c.value for c in at.caption)
    assert at.query_params["image"] == "5" and notices(at) == ""
    shown = next(m.value for m in at.markdown if m.value.startswith("**File:**"))
    # a random draw of the same label is kept in the URL; the link opens that image again
    at.button(key="image_random_1").click().run()
    drawn = at.query_params["image"]
    again = round_trip(at, tiny, "predict")
    assert again.query_params["image"] == drawn
    assert next(m.value for m in again.markdown if m.value.startswith("**File:**")) == next(
        m.value for m in at.markdown if m.value.startswith("**File:**"))
    # bad values: an image number out of range draws one, a band out of range and an unknown
    # method fall back to the defaults
    bad = open_link(tiny, "predict", {"origin": "Random test image", "image": "60",
                                      "band": "0.9", "methods": ["X-ray"], "layer": "nope"})
    said = notices(bad)
    for shown_value in ("image=60", "band=0.9", "methods=X-ray", "layer=nope"):
        assert f"**{shown_value}**" in said
    assert 0 <= int(bad.query_params["image"]) < 60  # drawn instead
    assert bad.slider(key="band").value == pytest.approx(0.1)
    assert shown  # the first link showed a file


# ---------------------------------------------------------------- labs


@pytest.mark.slow
def test_filters_lab_link_restores_filters_class_count_and_seed(tiny):
    query = {"filters": ["Gray World", "SRM noise residual"], "class": "ship", "n": "2",
             "seed": "7"}
    at = open_link(tiny, "filters", query)
    assert at.multiselect(key="filters").value == ["gray_world", "srm"]
    assert at.selectbox(key="class").value == 9 and at.slider(key="n").value == 2
    assert grid_captions(at) == (["REAL · ship"] * 2 + ["FAKE · ship"] * 2) * 3  # + 2 filters
    again = round_trip(at, tiny, "filters")
    assert [h.proto.body for h in again.get("html")] == [h.proto.body for h in at.get("html")]
    bad = open_link(tiny, "filters", {"n": "80", "tab": "Filtered", "filters": ["blur"]})
    for shown_value in ("n=80", "tab=Filtered", "filters=blur"):
        assert f"**{shown_value}**" in notices(bad)
    assert bad.slider(key="n").value == 4


@pytest.mark.slow
def test_robustness_and_adversarial_battery_links(empty):
    at = open_link(empty, "robustness", {"models": ["scanner"], "metric": "Accuracy"})
    assert at.multiselect(key="models").value == ["scanner"]
    assert at.segmented_control(key="metric").value == "accuracy"
    at = open_link(empty, "adversarial", {"tab": "Accuracy vs epsilon", "models": ["lenet"]})
    assert at.multiselect(key="models").value == ["lenet"]
    assert notices(at) == ""
    bad = open_link(empty, "robustness", {"metric": "F1"})
    assert "**metric=F1**" in notices(bad)
    assert bad.segmented_control(key="metric").value == "auroc"


@pytest.mark.slow
def test_robustness_and_adversarial_live_links(tiny):
    at = open_link(tiny, "robustness", {"tab": "Try one image", "image": "3",
                                        "change": "Gaussian blur", "blur": "2"})
    assert at.selectbox(key="change").value == "blur" and at.slider(key="blur").value == 2.0
    assert "Test image no. 3 of" in " ".join(c.value for c in at.caption)
    bad = open_link(tiny, "robustness", {"tab": "Try one image", "change": "Gaussian blur",
                                         "blur": "40"})
    assert "**blur=40**" in notices(bad) and bad.slider(key="blur").value == 1.0
    at = open_link(tiny, "adversarial", {"image": "3", "model": "reference_cnn", "attack": "PGD",
                                         "epsilon": "4.5"})
    assert at.selectbox(key="model").value == "reference_cnn"
    assert at.segmented_control(key="attack").value == "pgd"
    assert at.slider(key="epsilon").value == 4.5
    assert "PGD, epsilon 4.5/255" in " ".join(i.proto.imgs[0].caption for i in at.get("image"))


@pytest.mark.slow
def test_generalization_lab_link_opens_the_same_fake(empty):
    at = open_link(empty, "generalization", {"tab": "Generate a fake now", "seed": "42"})
    assert "--seed 42" in " ".join(c.value for c in at.caption)
    bad = open_link(empty, "generalization", {"tab": "Generate a fake now", "seed": "-1"})
    assert "**seed=-1**" in notices(bad)
    assert "Press the button" in " ".join(c.value for c in bad.caption)


@pytest.mark.slow
def test_generalization_lab_link_restores_models_and_metric(empty):
    at = open_link(empty, "generalization", {"tab": "Generalist vs specialist",
                                             "models": ["flagship", "scanner"]})
    assert at.multiselect(key="models").value == ["flagship", "scanner"]
    at = open_link(empty, "generalization", {"tab": "Cross-generator matrix",
                                             "metric": "Accuracy"})
    assert at.segmented_control(key="metric").value == "accuracy" and notices(at) == ""
    bad = open_link(empty, "generalization", {"tab": "Generalist vs specialist",
                                              "models": ["dall-e"]})
    assert "**models=dall-e**" in notices(bad)


@pytest.mark.slow
def test_training_lab_link_restores_every_knob(tiny):
    query = {"conv": "2", "filters": "16", "dense": "2", "neurons": "64", "l2": "0.001",
             "dropout": "0.3", "augment": ["flip", "jpeg"], "optimizer": "sgd", "lr": "0.003",
             "epochs": "5", "batch": "128", "images": "54 (all)", "size": "24", "tab": "Sweeps"}
    at = open_link(tiny, "training", query)
    assert notices(at) == ""
    assert [at.slider(key=k).value for k in ("conv", "dense", "epochs")] == [2, 2, 5]
    assert [at.select_slider(key=k).value for k in
            ("filters", "neurons", "l2", "dropout", "lr", "batch", "images", "size")] == \
        [16, 64, 1e-3, 0.3, 3e-3, 128, 54, 24]  # 54: all the tiny data's training images
    assert at.multiselect(key="augment").value == ["flip", "jpeg"]
    assert at.selectbox(key="optimizer").value == "sgd"
    assert at.session_state["tab"] == "Sweeps"
    # the reference settings button resets every knob (and so the URL)
    next(b for b in at.button if b.label == "Reference settings").click().run()
    assert [at.slider(key=k).value for k in ("conv", "dense", "epochs")] == [3, 1, 3]
    bad = open_link(tiny, "training", {"conv": "9", "lr": "5", "optimizer": "lion"})
    for shown_value in ("conv=9", "lr=5", "optimizer=lion"):
        assert f"**{shown_value}**" in notices(bad)
    assert bad.slider(key="conv").value == 3


@pytest.mark.slow
def test_quiz_link_prefills_the_round_and_keeps_a_started_one(tiny):
    def code(at):
        return next(t for t in at.text_input if t.label.startswith("Round code")).value

    at = open_link(tiny, "quiz", {"quiz_code": "abc123", "quiz_n": "8"})
    assert code(at) == "ABC123"
    assert next(s for s in at.slider if s.label == "Images").value == 8
    assert "Round **ABC123** from your link" in " ".join(i.value for i in at.info)
    next(b for b in at.button if b.label == "Start round").click().run()
    assert not at.exception
    assert "Image 1 of 8" in at.get("progress")[0].proto.text
    assert (at.query_params["quiz_code"], at.query_params["quiz_n"]) == ("ABC123", "8")
    assert link(at).endswith("?quiz_code=ABC123&quiz_n=8")
    bad = open_link(tiny, "quiz", {"quiz_code": "no!", "quiz_n": "500"})
    assert "**quiz_code=no!**" in notices(bad) and "**quiz_n=500**" in notices(bad)
    assert code(bad) == "" and "quiz_code" not in bad.query_params


@pytest.mark.slow
def test_batch_scan_link_restores_its_settings(empty):
    at = open_link(empty, "scan", {"models": ["scanner", "flagship"], "ensemble": ["flagship"],
                                   "view": "centre square crop, resized", "stability": "false"})
    assert at.multiselect(key="models").value == ["scanner", "flagship"]
    assert at.multiselect(key="ensemble").value == ["flagship"]
    assert at.segmented_control(key="view").value == "crop"
    assert at.toggle(key="stability").value is False
    bad = open_link(empty, "scan", {"stability": "maybe"})
    assert "**stability=maybe**" in notices(bad) and bad.toggle(key="stability").value is True


def test_home_link_is_the_page_address(empty):
    at = open_link(empty, "home", {})
    assert link(at) == "" and notices(at) == ""  # AppTest has no address; no parameters


def test_uploads_never_enter_the_url(empty):
    for page in ("scan", "predict"):
        at = open_link(empty, page, {})
        uploaders = at.get("file_uploader")
        assert uploaders and not any(getattr(u.proto, "query_param_key", "") for u in uploaders)
