"""Every page in headless Chromium (Playwright), with and without the dataset; views opened from
links show the links' values, and a link copied in one browser opens the same view in another."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from screenshots import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LINK_VIEWS,
    VIEWS,
    after_rerun,
    capture,
    streamlit_server,
    wait_until_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


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


@pytest.fixture(scope="module")
def app_with_data(browser_available, cifake_zip):
    """The app on a loopback port with the real CIFAKE, shared by this module's tests."""
    with streamlit_server(8611, {"CIFAKE_PATH": str(cifake_zip)}) as url:
        yield url


# views whose work the AppTest suite already drives: left out of the browser run to keep it
# short (python tests/screenshots.py still shoots them all)
LEFT_TO_APPTEST = {
    "dataset-pixels", "dataset-blur", "dataset-box", "dataset-duplicates",
    "models-confusion", "models-per-class", "models-training", "models-sweep",
    "inside-filters", "inside-top-images", "filters-matrix", "robustness-battery",
    "adversarial-curves", "generalization-matrix", "generalization-models", "training-sweeps",
    "models-curves", "training-curves",
    # links whose every value tests/test_links.py checks; the browser keeps one link per kind
    # of widget (a page's settings, a test image with its methods, a refused value)
    "link-models", "link-robustness", "link-training", "link-quiz",
}
BROWSER_VIEWS = [(path, kept) for path, tabs in VIEWS + LINK_VIEWS
                 if (kept := [tab for tab in tabs if tab[2] not in LEFT_TO_APPTEST])]


def names(views) -> list[str]:
    return [name for _, tabs in views for _, _, name in tabs]


# capture() itself fails on a Streamlit exception, an empty main area, a missing text or a
# widget that does not show a link's value ("expect:" actions)
@pytest.mark.real_data
@pytest.mark.xdist_group("browser-with-data")
def test_every_page_and_link_renders_with_the_real_dataset(app_with_data, tmp_path):
    checked = capture(tmp_path, url=app_with_data, views=BROWSER_VIEWS, shoot=False)
    assert [p.stem for p in checked] == names(BROWSER_VIEWS)


@pytest.mark.xdist_group("browser-without-data")
def test_every_page_renders_without_the_dataset(browser_available, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    # a visit's start on the pages most used without the dataset (AppTest opens every page
    # without it: tests/test_app.py)
    first_views = [(path, tabs[:1]) for path, tabs in VIEWS
                   if path in ("", "lesson", "dataset", "models", "inside", "training")]
    checked = capture(tmp_path / "shots", port=8612, views=first_views, shoot=False,
                      env={"CIFAKE_PATH": str(empty)})
    assert [p.stem for p in checked] == names(first_views)


def copied_link(page) -> str:
    """The link the sidebar offers to copy."""
    return page.locator('[data-testid="stSidebar"] [data-testid="stCode"] code').inner_text()


@pytest.mark.real_data
@pytest.mark.xdist_group("browser-with-data")
def test_a_copied_link_opens_the_same_view_in_a_fresh_browser(app_with_data):
    from playwright.sync_api import sync_playwright

    def grid(page) -> list[str]:
        images = page.locator('[data-testid="image-grid"] img')
        images.first.wait_for(timeout=60_000)  # drawn after the run has finished
        return images.evaluate_all("images => images.map(i => i.src)")

    def shown_file(page) -> str:
        return page.locator('[data-testid="stMarkdownContainer"]').filter(
            has_text="File:").first.inner_text()

    url = app_with_data
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        teacher = browser.new_context(viewport={"width": 1400, "height": 1200}).new_page()
        teacher.goto(f"{url}/dataset?class=ship")
        wait_until_idle(teacher)
        teacher.locator('[data-testid="stSelectbox"]').filter(has_text="Label").click()
        after_rerun(teacher, teacher.get_by_role("option", name="FAKE", exact=True).click)
        after_rerun(teacher, teacher.get_by_role("button", name="Reshuffle").click)
        link = copied_link(teacher)
        assert link == teacher.url  # the address bar and the link to copy agree
        assert link == f"{url}/dataset?class=ship&label=FAKE&seed=1"
        shown = grid(teacher)
        assert len(shown) == 48
        # a student's browser: no cookies, no cache, a new session
        student = browser.new_context(viewport={"width": 1400, "height": 1200}).new_page()
        student.goto(link)
        wait_until_idle(student)
        assert grid(student) == shown
        assert "FAKE" in student.locator('[data-testid="stSelectbox"]').filter(
            has_text="Label").first.evaluate("e => e.querySelector('input').value")
        # Check an image: the random fake the teacher drew opens for the student
        teacher.goto(f"{url}/predict?origin=Random+test+image")
        wait_until_idle(teacher)
        after_rerun(teacher, teacher.get_by_role("button", name="Random fake").click)
        link = copied_link(teacher)
        assert "image=" in link and link == teacher.url
        assert "/FAKE/" in shown_file(teacher)
        student.goto(link)
        wait_until_idle(student)
        assert shown_file(student) == shown_file(teacher)
        browser.close()
