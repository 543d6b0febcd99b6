"""The Inside the CNN page and view (AppTest): without the dataset, with a model saved from the
Training lab, with the real CIFAKE; links (URL parameters) in and out, and the link from Check
an image."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import REPO_ROOT, encode, random_image, save_lab_model
from streamlit.testing.v1 import AppTest

pytest.importorskip("keras")

APP = str(REPO_ROOT / "streamlit_app.py")
TABS = ("Network", "Activation maps", "Filters", "Convolution step by step",
        "Top images of a channel", "Real vs fake channels")


def open_page(data_path: str, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["data_path"] = data_path
    for name, value in (query or {}).items():
        at.query_params[name] = value
    at.run()
    at.switch_page("pages/inside.py")
    return at.run()


def texts(at: AppTest, kind: str) -> str:
    return " ".join(str(e.value) for e in at.get(kind))


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.mark.slow
def test_without_the_dataset_an_upload_opens_every_tab(tmp_path):
    at = open_page(str(tmp_path), {"model": "nope", "source": "banana"})
    assert not at.exception
    assert "The link's **model=nope** is not available here" in texts(at, "warning")
    assert "The link's **source=banana** is not available here" in texts(at, "warning")
    assert at.selectbox(key="model").value == "flagship"
    assert at.segmented_control(key="source").value == "Upload"
    assert "Uploads never travel in links" in texts(at, "info")
    # an image handed over by Check an image (uploads stay in the session, not in the URL)
    image = random_image(7)
    at.session_state["inside_carried"] = ("seven.png", encode(image, ".png"))
    at.run()
    assert not at.exception and "The image from Check an image: seven.png" in texts(
        at, "caption")
    from core.models.artifacts import load_predictor

    expected = load_predictor("flagship").predict(image[None])[0]
    assert float(metrics(at)["Calibrated P(FAKE)"]) == pytest.approx(expected, abs=1e-3)
    for tab in TABS:
        at.session_state["tab"] = tab
        at.run()
        assert not at.exception, tab
        if tab in TABS[4:]:
            assert "This view needs the dataset" in texts(at, "info")
    at.session_state["tab"] = "Convolution step by step"
    at.run()
    assert ":green[✓ the same]" in texts(at, "markdown")
    position = at.slider(key="inside_position")
    before = position.value
    at.button(key="inside_position_forward").click().run()
    assert at.slider(key="inside_position").value == (before + 1) % 1024


def _lab_view(models_dir: str, name: str):
    import numpy as np

    from pages import _inside_view

    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3)).astype(np.uint8)
    _inside_view.render(model=name, image=image, models_dir=models_dir, key="lab",
                        tab="Activation maps", layer="conv2")


@pytest.mark.slow
def test_the_view_shows_a_training_lab_model(tmp_path):
    from core.models.artifacts import load_predictor

    models, name, _ = save_lab_model(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    at = AppTest.from_function(_lab_view, args=(str(models), name), default_timeout=120)
    at.session_state["data_path"] = str(empty)  # no dataset: the channel views say so
    at.run()
    assert not at.exception
    assert at.selectbox(key="lab_model").value == name
    assert at.selectbox(key="lab_layer").value == "Convolution 2"
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3)).astype(np.uint8)
    assert float(metrics(at)["Calibrated P(FAKE)"]) == pytest.approx(
        load_predictor(name, models).predict(image[None])[0], abs=1e-3)
    for tab in TABS:
        at.session_state["lab_tab"] = tab
        at.run()
        assert not at.exception, tab
    assert "This view needs the dataset" in texts(at, "info")


@pytest.mark.real_data
@pytest.mark.slow
def test_links_open_the_same_view_and_bad_values_fall_back(cifake_zip):
    from core.data.dataset import load_dataset
    from core.models.artifacts import load_predictor

    at = open_page(str(cifake_zip))
    assert not at.exception
    dataset = load_dataset(cifake_zip)
    test_rows = np.flatnonzero(dataset.splits == 1)
    assert at.selectbox(key="model").value == "flagship"
    first = at.number_input(key="image").value
    assert dataset.labels[test_rows[first]] == 1  # the default: a FAKE test image
    assert f"test image {first}" in texts(at, "markdown")
    # a link with every choice
    at = open_page(str(cifake_zip), {"model": "scanner", "image": "5", "tab": "Activation maps",
                                     "layer": "Convolution 3", "channel": "7"})
    assert not at.exception
    assert at.selectbox(key="model").value == "scanner"
    assert at.number_input(key="image").value == 5
    assert at.selectbox(key="layer").value == "Convolution 3"
    assert at.number_input(key="channel").value == 7
    assert "**Channel 7** of Convolution 3" in texts(at, "markdown")
    image = dataset.images[test_rows[5]]
    expected = load_predictor("scanner").predict(image[None])[0]
    assert float(metrics(at)["Calibrated P(FAKE)"]) == pytest.approx(expected, abs=1e-3)
    # a random REAL image goes into the box (and so into the URL)
    at.button(key="inside_random_0").click().run()
    assert dataset.labels[test_rows[at.number_input(key="image").value]] == 0
    # bad values fall back with a notice
    at = open_page(str(cifake_zip), {"model": "nope", "image": "99999", "layer": "Residual 9"})
    assert not at.exception
    notices = texts(at, "warning")
    assert "**model=nope**" in notices and "**image=99999**" in notices
    assert at.selectbox(key="model").value == "flagship"
    assert at.number_input(key="image").value == first


@pytest.mark.real_data
@pytest.mark.slow
def test_check_an_image_links_here_with_the_same_image_and_model(cifake_zip):
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["data_path"] = str(cifake_zip)
    at.run()
    at.switch_page("pages/predict.py")
    at.run()
    at.segmented_control(key="origin").set_value("Random test image").run()
    number = at.query_params["image"]  # the image's number among the test images
    link = next(e for e in at.get("page_link") if "inside the CNN" in e.proto.label)
    model = at.selectbox(key="model").value
    from urllib.parse import parse_qsl

    assert dict(parse_qsl(link.proto.query_string)) == {"model": model, "image": str(number)}
