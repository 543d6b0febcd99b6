"""Render every page (and every tab of the Dataset page) in headless Chromium and save PNGs.

    python tests/screenshots.py [--out screenshots] [--port 8599]
    python tests/screenshots.py --docs    # the README's pictures -> docs/images/

Starts ``streamlit run streamlit_app.py`` headless, drives Debian's Chromium with Playwright,
waits for each page to finish running, fails on any Streamlit exception element, an empty main
area or a missing text, and writes one screenshot per view. ``tests/test_browser.py`` runs it
inside the test suite.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]

# (url path, [(action (see run_action), text(s) that must appear, file name), ...])
VIEWS = [
    ("", [(None, ("Start the lesson", "Dataset status"), "home")]),
    ("lesson", [
        (None, ("Real or generated?", "What CIFAKE is", "Teacher notes"), "lesson-step1"),
        ("button:Next", "Can you tell?", "lesson-step2"),
        ("button:Reveal the answers", "Hide the answers", "lesson-step2-answers"),
    ]),
    ("lesson?lesson=real-or-generated&step=6&presenter=true", [
        (None, ("Two maps of the same images", "Neighbours with the same label"),
         "lesson-presenter-step6"),
    ]),
    ("lesson?step=11", [(None, ("Where it fails", "Generators never seen"), "lesson-step11")]),
    ("dataset", [
        ("Samples", "Dataset", "dataset-samples"),
        ("Pixels & colour", "Pixel intensities", "dataset-pixels"),
        ("Blur & background", "Highest background-defect scores", "dataset-blur"),
        ("Box plots", "The box spans the middle half", "dataset-box"),
        ("Spectrum", "Radial power spectrum", "dataset-spectrum"),
        ("Duplicates & leak", "Leak-free test images", "dataset-duplicates"),
        ("Embedding map", "Embedding map", "dataset-embedding"),
        ("lasso", "selected", "dataset-embedding-selection"),
    ]),
    ("models", [
        ("Model cards", ("Calibration", "Training command"), "models-card"),
        ("ROC & PR", "Leaderboard", "models-curves"),
        ("Confusion & calibration", "Reliability", "models-confusion"),
        ("Per class", "Accuracy per CIFAR class", "models-per-class"),
        ("Training", "Model comparison", "models-training"),
        ("PCA sweep", "Model comparison", "models-sweep"),
        ("Agreement & ensemble", "Agreement", "models-agreement"),
        ("Drill-down", "Confusion cell", "models-drilldown"),
    ]),
    ("predict", [
        (None, "Upload an image", "predict-empty"),
        ("upload:photo.jpg,broken.jpg", ("Ensemble verdict", "broken.jpg: truncated",
                                         "Tiled analysis", "Stability check"), "predict-photo"),
    ]),
    ("predict", [
        ("upload:small.jpg", ("Ensemble verdict", "Why: heat maps", "verdict holds"),
         "predict-small"),
    ]),
    ("inside", [
        (None, "Inside the CNN", "inside"),
        ("Network", "How the last layer decides", "inside-network"),
        ("Activation maps", "Colour scale", "inside-maps"),
        ("Filters", "One filter, input channel by input channel", "inside-filters"),
        ("Convolution step by step", "the same", "inside-convolution"),
        ("Top images of a channel", "What does a channel respond to", "inside-top-images"),
        ("Real vs fake channels", "Does a single channel tell REAL from FAKE",
         "inside-real-vs-fake"),
    ]),
    ("inside?source=Upload&tab=Activation+maps&layer=Global+pooling", [
        (None, "Uploads never travel in links", "inside-upload-empty"),
        ("upload:small.jpg", ("Global pooling turns each map", "Calibrated P(FAKE)"),
         "inside-upload"),
    ]),
    ("inside?model=scanner&image=5&tab=Activation+maps&layer=Convolution+3&channel=7", [
        (None, "Model", "inside-link"),
        ("wait:1", "Channel 7", "inside-link-channel"),
    ]),
    ("scan", [
        ("upload:photo.jpg,small.jpg,broken.jpg", "Scan", "scan-ready"),
        ("button:Scan", ("Download CSV", "Unstable verdicts"), "scan-results"),
    ]),
    ("filters", [
        ("Filtered images", "Gray World", "filters-images"),
        ("Train on filtered images", "Filters lab", "filters-matrix"),
    ]),
    ("robustness", [
        ("Battery (all test images)", "Robustness lab", "robustness-battery"),
        ("Try one image", "Robustness lab", "robustness-live"),
    ]),
    ("adversarial", [
        ("Attack one image", "FGSM", "adversarial-live"),
        ("Accuracy vs epsilon", "FGSM", "adversarial-curves"),
    ]),
    ("generalization", [
        ("Generators", ("Fréchet distance", "decoder images"), "generalization-generators"),
        ("Cross-generator matrix", "on sources it never saw", "generalization-matrix"),
        ("Generalist vs specialist", "Does the off-distribution score notice",
         "generalization-models"),
        ("Generate a fake now", "Press the button", "generalization-now"),
        ("button:Generate a fake", ("verdicts say FAKE", "Off-distribution ratio"),
         "generalization-fake"),
    ]),
    ("quiz", [(None, "Human vs machine", "quiz")]),
    ("training", [
        (None, "Training lab", "training-start"),
        ("Sweeps", "What it shows", "training-sweeps"),
        ("Learning curves", "Learning curves", "training-curves"),
    ]),
]
# the Training lab during and after a run with the reference settings (needs the dataset):
# python -c "from tests.screenshots import *; capture(Path('screenshots'), views=TRAINING_RUN)"
TRAINING_RUN = [("training", [
    ("button:Start", "Training lab", "training-queued"),
    ("wait:20", "Validation accuracy", "training-live"),
    ("wait:120", "Save this run as a model", "training-result"),
])]
# views opened from a link (a query string, needs the dataset): "expect:Label=value;..." checks
# that the widget with that label shows the link's value
LINK_VIEWS = [
    ("dataset?class=ship&label=FAKE&count=24&seed=3", [
        ("expect:CIFAR class=ship;Label=FAKE;Images=24", ("FAKE · ship", "seed=3"),
         "link-dataset")]),
    ("models?models=flagship&models=scanner&test=Leak-free+test&tab=Per+class", [
        ("expect:Models to compare=scanner", "Accuracy per CIFAR class", "link-models")]),
    ("predict?origin=Random+test+image&image=123&band=0.2&methods=SmoothGrad", [
        ("expect:Inconclusive band=0.20;Methods=SmoothGrad", ("Test image no. 123",
                                                             "SmoothGrad ·"), "link-predict")]),
    ("robustness?tab=Try+one+image&image=7&change=Gaussian+blur&blur=2", [
        ("expect:Change=Gaussian blur;sigma=2", "Gaussian blur: 2", "link-robustness")]),
    ("training?conv=2&epochs=5&augment=flip", [
        ("expect:Convolutional blocks=2;Epochs=5;Augmentation=flip", "Training lab",
         "link-training")]),
    ("quiz?quiz_code=ABC123&quiz_n=8", [("expect:Images=8", "from your link", "link-quiz")]),
    ("dataset?class=zebra&tab=Nope", [(None, "is not available here", "link-refused")]),
]
UPLOAD_INPUT = '[data-testid="stFileUploaderDropzoneInput"]'
# The README's pictures (--docs): (url path, actions, text(s) that must appear, text scrolled to
# the top, file name), shot at DOC_VIEWPORT and clipped to the main area. Only pixels of the
# project's own (charts, statistics, a generated upload); never a view with CIFAKE images.
DOC_VIEWS = [
    ("predict", ["upload:photo.jpg"], ("Ensemble verdict", "Tiled analysis"),
     "What the models see", "check-an-image"),
    ("models", ["ROC & PR"], "Leaderboard", "Models to compare", "model-comparison"),
    ("dataset", ["Spectrum"], "Radial power spectrum", "Frequency spectrum.",
     "dataset-spectrum"),
]
DOC_VIEWPORT = {"width": 1280, "height": 800}
DOC_IMAGES = ROOT / "docs" / "images"
WIDGETS = ", ".join(f'[data-testid="{kind}"]' for kind in (
    "stSelectbox", "stMultiSelect", "stSlider", "stTextInput", "stNumberInput"))


@contextmanager
def streamlit_server(port: int, env: dict | None = None):
    """Run the app headless on ``port`` until the block exits."""
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
         "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None:
                raise RuntimeError(f"streamlit exited: {process.stderr.read()}")
            time.sleep(0.3)
        else:
            raise RuntimeError("streamlit did not start within 60 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def wait_until_idle(page, timeout_s: float = 240, settle_ms: int = 800) -> None:
    """Wait until the app is connected and its script run has finished (plus ``settle_ms`` for
    charts to draw)."""
    page.wait_for_selector('[data-testid="stApp"][data-test-connection-state="CONNECTED"]'
                           '[data-test-script-state="notRunning"]', timeout=timeout_s * 1000)
    page.wait_for_timeout(settle_ms)


def after_rerun(page, act, settle_ms: int = 800) -> None:
    """Do ``act`` (a click, an upload) and wait until the rerun it starts has finished: it is
    seen starting within 2 s, or it was too quick to see."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    act()
    try:
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="running"]',
                               timeout=2000)
    except PlaywrightTimeout:
        pass
    wait_until_idle(page, settle_ms=settle_ms)


def lasso_select(page) -> None:
    """Drag a lasso around the middle of the last plotly chart (the embedding map)."""
    chart = page.locator('[data-testid="stPlotlyChart"]').last
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    w, h = box["width"] * 0.15, box["height"] * 0.2
    page.mouse.move(cx - w, cy - h)
    page.mouse.down()
    for x, y in [(cx + w, cy - h), (cx + w, cy + h), (cx - w, cy + h), (cx - w, cy - h)]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()
    page.wait_for_timeout(1000)
    wait_until_idle(page)


def write_uploads(folder: Path) -> Path:
    """Files the upload views send: a 640x480 JPEG photo-like scene, a 32x32 JPEG (a CIFAKE test
    fake when the real zip is beside the repository, else a generated one) and a truncated
    JPEG."""
    import zipfile

    import cv2
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    rows, cols = np.mgrid[0:480, 0:640]
    scene = np.stack([cols / 640 * 200 + 30, rows / 480 * 180 + 40,
                      np.sin(cols / 40) * 60 + 120], axis=-1)
    scene += np.random.default_rng(0).normal(0, 6, scene.shape)
    ok, photo = cv2.imencode(".jpg", np.clip(scene, 0, 255).astype(np.uint8),
                             [cv2.IMWRITE_JPEG_QUALITY, 92])
    (folder / "photo.jpg").write_bytes(photo.tobytes())
    (folder / "broken.jpg").write_bytes(photo.tobytes()[:2000])
    cifake = ROOT.parent / "shared" / "data" / "cifake.zip"
    if cifake.exists():
        with zipfile.ZipFile(cifake) as archive:
            small = archive.read("test/FAKE/10.jpg")
    else:
        ok, buffer = cv2.imencode(".jpg", scene[::15, ::20].astype(np.uint8)[:32, :32],
                                  [cv2.IMWRITE_JPEG_QUALITY, 75])
        small = buffer.tobytes()
    (folder / "small.jpg").write_bytes(small)
    return folder


def run_action(page, action: str | None, uploads: Path, settle_ms: int = 800) -> None:
    """One step of a view: None (just look), a tab name, "lasso", "upload:a.jpg,b.jpg",
    "button:Label", "wait:SECONDS" or "expect:Label=value;..." (no action: each widget with
    that label must show that value)."""
    if action is None:
        return
    if action.startswith("expect:"):
        for check in action.removeprefix("expect:").split(";"):
            label, value = check.split("=", 1)
            shown = page.locator(WIDGETS).filter(has_text=label).first.evaluate(
                "e => [e.innerText, ...[...e.querySelectorAll('input')].map(i => i.value)]"
                ".join(' ')")
            if value not in shown:
                raise AssertionError(f"{label}: expected {value!r} in the widget, saw {shown!r}")
        return
    if action == "lasso":
        lasso_select(page)
    elif action.startswith("upload:"):
        files = [str(uploads / name) for name in action.removeprefix("upload:").split(",")]
        # the page's main uploader
        after_rerun(page, lambda: page.locator(UPLOAD_INPUT).first.set_input_files(files),
                    settle_ms)
    elif action.startswith("wait:"):
        page.wait_for_timeout(1000 * float(action.removeprefix("wait:")))
        wait_until_idle(page, settle_ms=settle_ms)
    elif action.startswith("button:"):
        button = page.get_by_role("button", name=action.removeprefix("button:"), exact=True)
        after_rerun(page, lambda: button.first.click(), settle_ms)
    else:  # a tab: it reruns the page, and only that tab runs
        after_rerun(page, lambda: page.get_by_role("tab", name=action, exact=True).click(),
                    settle_ms)


def capture(out_dir: Path, *, port: int = 8599, env: dict | None = None, views=VIEWS,
            prefix: str = "", shoot: bool = True, url: str | None = None) -> list[Path]:
    """Screenshot every view into ``out_dir`` (with ``shoot=False``, only a view that fails its
    check); raise AssertionError on a Streamlit exception, an empty main area or a missing text.
    Returns the names of the views checked, as the PNG paths they have or would have. With
    ``url`` it uses that running app instead of starting one on ``port``."""
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    uploads = write_uploads(out_dir / "uploads")
    written = []
    settle_ms = 800 if shoot else 200  # charts draw before a shot; checks read the page
    with (nullcontext(url) if url else streamlit_server(port, env)) as url, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 3000 if shoot else 1000})
        for path, tabs in views:
            page.goto(f"{url}/{path}")
            wait_until_idle(page, settle_ms=settle_ms)
            for action, texts, name in tabs:
                run_action(page, action, uploads, settle_ms)
                target = out_dir / f"{prefix}{name}.png"
                written.append(target)
                try:
                    check_page(page, name, texts, target)
                except AssertionError:
                    page.screenshot(path=str(target), full_page=True)  # to see what failed
                    raise
                if shoot:
                    page.screenshot(path=str(target), full_page=True)
        browser.close()
    return written


def check_page(page, name: str, texts, target: Path) -> None:
    """Raise AssertionError on a Streamlit exception, an empty main area or a missing text."""
    exceptions = page.locator('[data-testid="stException"]')
    if exceptions.count():
        raise AssertionError(f"{name}: Streamlit exception: {exceptions.first.inner_text()}")
    main = page.locator('[data-testid="stMainBlockContainer"]')
    if not main.count() or not main.first.inner_text().strip():
        raise AssertionError(f"{name}: the page's main area is empty ({target})")
    for text in [texts] if isinstance(texts, str) else texts:
        if page.get_by_text(text).count() == 0:
            raise AssertionError(f"{name}: expected text {text!r} not on the page ({target})")


def capture_docs(out_dir: Path = DOC_IMAGES, *, port: int = 8599, env: dict | None = None,
                 views=DOC_VIEWS) -> list[Path]:
    """Shoot ``views`` at ``DOC_VIEWPORT``, each clipped to the main area with its scroll text
    at the top, as compressed PNGs in ``out_dir``; checked as ``capture`` checks."""
    from PIL import Image
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with (tempfile.TemporaryDirectory() as tmp, streamlit_server(port, env) as url,
          sync_playwright() as p):
        uploads = write_uploads(Path(tmp))
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=DOC_VIEWPORT)
        for path, actions, texts, top, name in views:
            page.goto(f"{url}/{path}")
            wait_until_idle(page)
            for action in actions:
                run_action(page, action, uploads)
            target = out_dir / f"{name}.png"
            check_page(page, name, texts, target)
            # the main area scrolls, not the window: bring the text to its top, below the header
            page.get_by_text(top, exact=True).first.evaluate(
                "e => { e.scrollIntoView({block: 'start'}); let s = e.parentElement;"
                " while (s && !/auto|scroll/.test(getComputedStyle(s).overflowY))"
                " s = s.parentElement; if (s) s.scrollTop -= 72; }")
            page.mouse.move(5, 5)  # over the sidebar: no hover toolbars in the shot
            page.wait_for_timeout(1500)  # charts that come into view draw
            box = page.locator('[data-testid="stMain"]').first.bounding_box()
            shot = out_dir / f"{name}.raw.png"
            page.screenshot(path=str(shot), clip={
                "x": box["x"], "y": box["y"], "width": box["width"],
                "height": min(box["height"], DOC_VIEWPORT["height"] - box["y"])})
            with Image.open(shot) as image:
                image.convert("RGB").save(target, optimize=True)
            shot.unlink()
            written.append(target)
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "screenshots"))
    parser.add_argument("--port", type=int, default=8599)
    parser.add_argument("--no-data", action="store_true",
                        help="run as a user without the dataset "
                             "(CIFAKE_PATH set to an empty folder)")
    parser.add_argument("--docs", action="store_true",
                        help=f"write the README's pictures (DOC_VIEWS) to {DOC_IMAGES}")
    parser.add_argument("--links", action="store_true",
                        help="the views opened from links (LINK_VIEWS) instead")
    args = parser.parse_args()
    if args.docs:
        for path in capture_docs(port=args.port):
            print(path, f"{path.stat().st_size // 1024} KB")
        return
    env, prefix = None, ""
    if args.no_data:
        empty = Path(tempfile.mkdtemp(prefix="no-cifake-"))
        env, prefix = {"CIFAKE_PATH": str(empty)}, "nodata-"
    views = LINK_VIEWS if args.links else VIEWS
    for path in capture(Path(args.out), port=args.port, env=env, prefix=prefix, views=views):
        print(path)


if __name__ == "__main__":
    main()
