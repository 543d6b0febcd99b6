"""Links in a real browser (headless Chromium, Playwright, the real CIFAKE): views opened from a
query string show its values, and a link copied from one browser opens the same view in another."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from screenshots import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LINK_VIEWS,
    capture,
    streamlit_server,
    wait_until_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.real_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser_available():
    import importlib.util

    if not (Path(CHROMIUM).exists() and importlib.util.find_spec("playwright")):
        reason = f"needs {CHROMIUM} and the playwright package"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def test_views_opened_from_links_show_the_links_values(browser_available, cifake_zip, tmp_path):
    # capture() checks each widget named in an "expect:" action and fails on an exception
    shots = capture(tmp_path, port=8613, env={"CIFAKE_PATH": str(cifake_zip)}, views=LINK_VIEWS)
    assert [p.stem for p in shots] == [name for _, tabs in LINK_VIEWS for _, _, name in tabs]


def settle(page) -> None:
    page.wait_for_timeout(2000)  # the rerun a click starts
    wait_until_idle(page)


def copied_link(page) -> str:
    """The link the sidebar offers to copy."""
    return page.locator('[data-testid="stSidebar"] [data-testid="stCode"] code').inner_text()


def test_a_copied_link_opens_the_same_view_in_a_fresh_browser(browser_available, cifake_zip):
    from playwright.sync_api import sync_playwright

    def grid(page) -> list[str]:
        return page.locator('[data-testid="image-grid"] img').evaluate_all(
            "images => images.map(i => i.src)")

    def shown_file(page) -> str:
        return page.locator('[data-testid="stMarkdownContainer"]').filter(
            has_text="File:").first.inner_text()

    with streamlit_server(8615, {"CIFAKE_PATH": str(cifake_zip)}) as url, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        teacher = browser.new_context(viewport={"width": 1400, "height": 1200}).new_page()
        teacher.goto(f"{url}/dataset?class=ship")
        wait_until_idle(teacher)
        teacher.locator('[data-testid="stSelectbox"]').filter(has_text="Label").click()
        teacher.get_by_role("option", name="FAKE", exact=True).click()
        settle(teacher)
        teacher.get_by_role("button", name="Reshuffle").click()
        settle(teacher)
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
        teacher.get_by_role("button", name="Random fake").click()
        settle(teacher)
        link = copied_link(teacher)
        assert "image=" in link and link == teacher.url
        assert "/FAKE/" in shown_file(teacher)
        student.goto(link)
        wait_until_idle(student)
        assert shown_file(student) == shown_file(teacher)
        browser.close()
