"""Benchmarks of pages in headless Chromium: the Dataset page's first visit and Inside the CNN."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from common import app_tools, emit, timed

from core.data.dataset import load_dataset


def bench_dataset_page(path: Path, port: int = 8631) -> None:
    """Dataset page as a visitor sees it: seconds from opening it to its first chart or image
    grid on screen (headless Chromium), with a fresh server and an empty cache (nothing decoded
    yet; target <= 5 s), then for a second visitor (target <= 2 s)."""
    from playwright.sync_api import sync_playwright

    tools = app_tools()

    # a chart, an image, or the sample grid (one element holding every sample)
    drawn = ", ".join(f'[data-testid="stMainBlockContainer"] [data-testid="{kind}"]'
                      for kind in ("stPlotlyChart", "stImage", "image-grid"))
    with tempfile.TemporaryDirectory() as cache, \
            tools.streamlit_server(port, {"CIFAKE_PATH": str(path),
                                          "CIFAKE_CACHE": cache}) as url, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=tools.CHROMIUM, args=tools.CHROMIUM_ARGS)
        for figure in ("dataset_page_first_visit_s", "dataset_page_first_visit_warm_s"):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            start = time.perf_counter()
            page.goto(f"{url}/dataset")
            page.locator(drawn).first.wait_for(state="visible", timeout=600_000)
            emit(figure, time.perf_counter() - start, "s")
            tools.wait_until_idle(page)
            page.close()
        browser.close()


def bench_inside(path: Path, port: int = 8632) -> None:
    """Inside the CNN with the flagship: every block's activations for one image (target
    <= 200 ms), the page's first render for a new test image on a warm server (<= 2 s), the top
    images of one channel from a fresh cache (5,000 test images, <= 30 s) and cached (<= 1 s)."""
    from playwright.sync_api import sync_playwright

    from core.detect.inside import Inside
    from core.labs.inside_channels import channel_stats, extremes
    from core.models.artifacts import load_predictor

    tools = app_tools()

    dataset = load_dataset(path)
    predictor = load_predictor("flagship")
    inside = Inside(predictor.model, predictor.calibration)
    test = dataset.images[dataset.splits == 1]
    inside.activations(test[:1])  # warm-up: the traced call
    times = [timed(lambda i=i: inside.activations(test[i:i + 1]))[1] for i in range(1, 31)]
    emit("inside_activations_one_image_ms", 1000 * float(np.median(times)),
         "ms (flagship, every block, median of 30)")

    def top_images(cache: str):
        stats = channel_stats(inside, predictor.sha256, dataset, "res6", cache_dir=cache)
        top, bottom = extremes(stats.means[:, 0])
        return dataset.images[stats.rows[np.concatenate([top, bottom])]]

    with tempfile.TemporaryDirectory() as cache:
        _, seconds = timed(lambda: top_images(cache))
        emit("inside_top_images_cold_s", seconds, "s (flagship on 5,000 test images)")
        _, seconds = timed(lambda: top_images(cache))
        emit("inside_top_images_cached_s", seconds, "s")
    done = '[data-testid="stApp"][data-test-script-state="notRunning"]'
    with tools.streamlit_server(port, {"CIFAKE_PATH": str(path)}) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=tools.CHROMIUM, args=tools.CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/inside?image=1")  # warm: the model, the dataset's listing
        tools.wait_until_idle(page)
        renders = []
        for index in (2, 3, 4):
            start = time.perf_counter()
            page.goto(f"{url}/inside?image={index}")
            page.get_by_text(f"test image {index} (").wait_for(timeout=120_000)
            page.get_by_text("How the last layer decides").wait_for(timeout=120_000)
            page.wait_for_selector(done, timeout=120_000)
            renders.append(time.perf_counter() - start)
        browser.close()
    emit("inside_page_new_image_warm_s", float(np.median(renders)),
         "s (Network tab, median of 3 new images)")
