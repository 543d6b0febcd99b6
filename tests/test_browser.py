"""Every page rendered in headless Chromium (Playwright), with and without the dataset."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from screenshots import CHROMIUM, VIEWS, capture

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def browser_available():
    missing = [what for what, ok in (
        (CHROMIUM, Path(CHROMIUM).exists()),
        ("the playwright package", importlib.util.find_spec("playwright") is not None),
    ) if not ok]
    if missing:
        reason = (f"browser test needs {' and '.join(missing)} "
                  "(apt-get install -y chromium; pip install playwright)")
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


# capture() itself fails on a Streamlit exception, an empty main area or a missing text


def assert_every_view_shot(shots, views=VIEWS):
    assert [p.stem for p in shots] == [name for _, tabs in views for _, _, name in tabs]
    assert all(p.stat().st_size > 20_000 for p in shots)  # a blank page is a few KB


# without the dataset, each page's first view (what a visitor lands on); with it, every view
FIRST_VIEWS = [(path, tabs[:1]) for path, tabs in VIEWS]


@pytest.mark.browser
@pytest.mark.real_data
@pytest.mark.slow
def test_every_page_renders_with_the_real_dataset(browser_available, cifake_zip, tmp_path):
    assert_every_view_shot(capture(tmp_path, port=8611, env={"CIFAKE_PATH": str(cifake_zip)}))


@pytest.mark.browser
@pytest.mark.slow
def test_every_page_renders_without_the_dataset(browser_available, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_every_view_shot(capture(tmp_path / "shots", port=8612, views=FIRST_VIEWS,
                                   env={"CIFAKE_PATH": str(empty)}), FIRST_VIEWS)
