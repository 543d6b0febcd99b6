"""Streamlit helpers shared by the pages: the data-source sidebar, cached loaders, common panels."""

from __future__ import annotations

import os
import runpy
import threading
from pathlib import Path

import numpy as np
import streamlit as st

from core.analysis.embed import Embedding, register_space
from core.analysis.stats import DatasetStats
from core.analysis.summary import (
    dataset_embedding,
    dataset_features,
    dataset_stats,
    read_committed_embedding,
    read_committed_stats,
)
from core.data.dataset import DEFAULT_SIZE, Dataset, load_dataset
from core.data.imageio import ImageInfo, decode_image, describe_image, enlarge
from core.data.quality import duplicate_report
from core.data.sources import CLASS_NAMES, LABELS, SPLITS, resolve_source, scan_source
from core.detect.predict import Detector, load_detector, stability
from core.errors import DataError, ImageError
from core.models.artifacts import MODELS_DIR, list_reports, load_predictor, read_json

ROOT = Path(__file__).resolve().parent.parent
KAGGLE_URL = "https://www.kaggle.com/datasets/birdy654/cifake-real-and-ai-generated-synthetic-images"
SIZES = (32, 64, 128)


# ---------------------------------------------------------------- routing

def ensure_router() -> None:
    """Run a page through the router when Streamlit ran it alone.

    Streamlit starts a server whose folder has ``pages/`` in its old folder-based mode and
    leaves it only once ``st.navigation`` has run, so a first request for a page URL (a reload
    of /dataset after a restart) would render the page without the router's sidebar and page
    list. Then the router runs here (it renders this page) and the lone run stops.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        runpy.run_path(str(ROOT / "streamlit_app.py"))
        st.stop()


# ---------------------------------------------------------------- data source (sidebar)

def sidebar() -> None:
    """The shared sidebar: dataset path box, image size and dataset status."""
    with st.sidebar:
        st.subheader("Dataset")
        if "data_path" not in st.session_state:
            try:
                st.session_state["data_path"] = str(resolve_source())
            except DataError:
                st.session_state["data_path"] = ""
        st.text_input(
            "CIFAKE zip or folder", key="data_path",
            placeholder="/path/to/cifake.zip or a folder with REAL/ and FAKE/",
            help="The Kaggle zip as downloaded, the extracted folder, or any folder with "
                 "REAL/ and FAKE/ sub-folders (optionally inside train/ and test/).",
        )
        st.select_slider("Image size (pixels)", SIZES, key="image_size", value=DEFAULT_SIZE,
                         help="Images of other sizes are resized to this square (area "
                              "interpolation when shrinking).")
        path, error = source()
        if path is None:
            st.warning(escape_markdown(error), icon=":material/folder_off:")
        else:
            counts = file_counts(path)
            total = sum(sum(row.values()) for row in counts.values())
            st.success(f"**{total:,}** image files found in `{path.name}`",
                       icon=":material/folder_open:")


def source() -> tuple[Path | None, str]:
    """The chosen data source and, when there is none, why."""
    try:
        path = resolve_source(st.session_state.get("data_path") or None)
        listing_counts(str(path), _mtime(path))
        return path, ""
    except DataError as exc:
        return None, str(exc)


def escape_markdown(text: str) -> str:
    """Show paths and patterns such as ``train/REAL/*.jpg`` literally in markdown widgets."""
    return "".join("\\" + ch if ch in "*_`[]<>#" else ch for ch in text)


def image_size() -> int:
    return int(st.session_state.get("image_size", DEFAULT_SIZE))


def _mtime(path: Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def file_counts(path: Path) -> dict:
    """Image files per split and label in a source (from its listing, no decoding)."""
    return listing_counts(str(path), _mtime(path))


@st.cache_data(show_spinner="Listing files…", max_entries=8)
def listing_counts(path: str, mtime: int) -> dict:
    """Counts per split and label from the file listing (no decoding); raises DataError."""
    listing = scan_source(path)
    return {
        split: {label: int(((listing.splits == s) & (listing.labels == lab)).sum())
                for lab, label in enumerate(LABELS)}
        for s, split in enumerate(SPLITS)
    }


# ---------------------------------------------------------------- cached heavy work

def progress_into(placeholder):
    """A core progress callback that draws a progress bar in ``placeholder`` on first use."""
    bar = None

    def update(fraction: float, message: str) -> None:
        nonlocal bar
        value = min(max(fraction, 0.0), 1.0)
        if bar is None:
            bar = placeholder.progress(value, text=message)
        else:
            bar.progress(value, text=message)
    return update


@st.cache_resource(show_spinner=False)
def _memo_store() -> tuple[dict, dict, threading.Lock]:
    """Process-wide results of heavy work shared by all sessions, one lock per key."""
    return {}, {}, threading.Lock()


def memo(key: tuple, compute, *, keep: int = 16):
    """``compute()`` once per key per process, evicting the oldest results beyond ``keep``.

    Unlike ``st.cache_*``, ``compute`` may draw progress bars: nothing is replayed later.
    Sessions asking for the same key wait for one computation; other keys are not blocked.
    """
    store, locks, guard = _memo_store()
    with guard:
        if key in store:
            return store[key]
        key_lock = locks.setdefault(key, threading.Lock())
    with key_lock:
        with guard:
            if key in store:
                return store[key]
        value = compute()
        with guard:
            store[key] = value
            while len(store) > keep:
                locks.pop(old := next(iter(store)), None)
                store.pop(old)
        return value


def loaded_dataset() -> tuple[Dataset, np.ndarray, DatasetStats] | None:
    """The chosen dataset with its features and statistics, decoding and computing with a
    progress bar the first time; None (with the reason shown) when no dataset is usable."""
    path, _ = source()
    if path is None:
        return None
    placeholder = st.empty()
    progress = progress_into(placeholder)
    size = image_size()
    try:
        dataset = memo(("dataset", str(path), _mtime(path), size),
                       lambda: load_dataset(path, size=size, progress=progress), keep=2)
        features = memo(("features", dataset.fingerprint),
                        lambda: dataset_features(dataset, progress=progress))
        stats = memo(("stats", dataset.fingerprint),
                     lambda: dataset_stats(dataset, features, progress=progress))
    except DataError as exc:
        placeholder.empty()
        st.error(escape_markdown(f"Cannot use {path}: {exc}"), icon=":material/error:")
        return None
    placeholder.empty()
    if dataset.skipped:
        with st.expander(f"{len(dataset.skipped):,} file(s) skipped: not readable as images"):
            st.dataframe({"file": [p for p, _ in dataset.skipped],
                          "reason": [r for _, r in dataset.skipped]}, hide_index=True)
    return dataset, features, stats


def embedding(dataset: Dataset, features: np.ndarray, *, space: str, method: str, n: int,
              seed: int = 0) -> Embedding:
    """A stratified sample embedded in 2-D, with a progress bar while it is computed (cached in
    memory and on disk)."""
    placeholder = st.empty()
    result = memo(
        ("embedding", dataset.fingerprint, space, method, n, seed),
        lambda: dataset_embedding(dataset, features, space=space, method=method, n=n, seed=seed,
                                  progress=progress_into(placeholder)),
        keep=32,
    )
    placeholder.empty()
    return result


def duplicate_groups(dataset: Dataset) -> list[np.ndarray]:
    """Row indices of each group of identical images (largest first), cached per dataset."""
    return memo(("duplicates", dataset.fingerprint),
                lambda: duplicate_report(dataset.hashes, dataset.labels, dataset.splits).groups)


@st.cache_resource(show_spinner=False)
def committed_stats() -> DatasetStats | None:
    return read_committed_stats()


@st.cache_resource(show_spinner=False)
def committed_embedding() -> dict | None:
    return read_committed_embedding()


# ---------------------------------------------------------------- trained models

def _models_mtime() -> int:
    return max((p.stat().st_mtime_ns for p in MODELS_DIR.glob("*.json")), default=0)


@st.cache_data(show_spinner=False, max_entries=4)
def _reports(mtime: int) -> list[dict]:
    return [r for r in list_reports() if r.get("metrics")]


def model_reports() -> list[dict]:
    """Reports of every evaluated model in models/ (re-read when a report changes)."""
    return _reports(_models_mtime())


@st.cache_data(show_spinner=False, max_entries=16)
def _json_file(name: str, mtime: int) -> dict | None:
    return read_json(name)


@st.cache_resource(show_spinner="Loading model…", max_entries=16)
def predictor(name: str, sha: str):
    """A loaded model (once per process and file version)."""
    return load_predictor(name)


def detector(names: tuple[str, ...] | None = None,
             ensemble: tuple[str, ...] | None = None) -> Detector | None:
    """The evaluated models (all, or ``names``) with their thresholds and ensemble, each model
    loaded once per process; None, with the reason shown, when there are none."""
    sha = {r["name"]: r.get("sha256", "") for r in model_reports()}
    try:
        return load_detector(list(names) if names else None,
                             ensemble=list(ensemble) if ensemble else None,
                             load=lambda name: predictor(name, sha[name]))
    except (OSError, ValueError) as exc:
        st.error(escape_markdown(f"The models cannot be loaded: {exc}"), icon=":material/error:")
        return None


@st.cache_data(show_spinner=False, max_entries=32)
def _stability(x: np.ndarray, versions: tuple, _detector: Detector) -> dict:
    return stability(_detector, x[None])


def stability_of(detector: Detector, x: np.ndarray) -> dict:
    """``core.detect.predict.stability`` of one model input (its "original" scores are the verdicts'),
    computed once per input and set of model files."""
    sha = {r["name"]: r.get("sha256", "") for r in model_reports()}
    versions = (tuple((n, sha.get(n, "")) for n in detector.names), tuple(detector.ensemble))
    return _stability(x, versions, detector)


@st.cache_data(show_spinner=False, max_entries=8)
def decoded(data: bytes) -> tuple[np.ndarray | None, ImageInfo | None, str]:
    """An uploaded file's pixels and header facts, or ``(None, None, reason)`` when it cannot be
    read (decoded once per file content)."""
    try:
        return decode_image(data), describe_image(data), ""
    except ImageError as exc:
        return None, None, str(exc)


@st.cache_data(show_spinner=False, max_entries=64)
def heatmap(x: np.ndarray, name: str, sha: str, method: str, layer: str, target: str,
            _explainer) -> np.ndarray:
    """``Explainer.heatmap`` of model ``name`` (file ``sha``), computed once per input and
    setting (opacity and colour map changes reuse it)."""
    return _explainer.heatmap(x, method, layer=layer, target=target)


@st.cache_resource(show_spinner="Preparing heat maps…", max_entries=8)
def explainer(name: str, sha: str):
    """tf-keras-vis tools for one CNN (built once per process and file version)."""
    from core.detect.explain import Explainer

    return Explainer(predictor(name, sha).model)


def register_model_spaces(dataset: Dataset) -> None:
    """Add every evaluated CNN's penultimate layer as an embedding space for this dataset."""
    for report in model_reports():
        if report["family"] != "classical" and report.get("input_size", 32) == dataset.size:
            try:
                model = predictor(report["name"], report.get("sha256", ""))
            except (OSError, ValueError) as exc:
                st.warning(escape_markdown(f"Model {report['name']} cannot be loaded: {exc}"))
                continue
            register_space(f"cnn-{report['name']}-{report.get('sha256', '')[:8]}",
                           f"CNN features: the penultimate layer of the trained model "
                           f"{report['name']}.",
                           lambda images, features, model=model: model.features(images))


def test_scores() -> dict | None:
    """models/test_scores.json: every model's test P(FAKE), with labels and paths."""
    return _json_file("test_scores.json", _models_mtime())


def lab_report(file_name: str) -> dict | None:
    """A committed lab report in models/ (robustness.json, adversarial.json, filter_matrix.json)."""
    return _json_file(file_name, _models_mtime())


def pca_sweep() -> dict | None:
    """models/pca_sweep.json: logistic-regression accuracy against PCA components."""
    return _json_file("pca_sweep.json", _models_mtime())


# ---------------------------------------------------------------- shared panels

def get_data_panel() -> None:
    """How to get CIFAKE, for users who have not downloaded it."""
    with st.container(border=True):
        st.markdown(
            f"""
**To see images, get CIFAKE** (about 105 MB):
1. Download the zip from [Kaggle]({KAGGLE_URL}) (free account needed).
2. Either put it at `data/cifake.zip` in this project, or extract it to `data/cifake/`,
   or type its path in the **CIFAKE zip or folder** box in the sidebar, or start the app with
   `CIFAKE_PATH=/path/to/cifake.zip`.

Any folder with `REAL/` and `FAKE/` sub-folders works too (images of any size).
"""
        )


def image_grid(images: list[np.ndarray], captions: list[str], *, columns: int = 8,
               scale: int = 3) -> None:
    """Images enlarged with nearest-neighbour (pixels stay visible), in rows of ``columns``."""
    for start in range(0, len(images), columns):
        cols = st.columns(columns)
        for col, image, caption in zip(cols, images[start:start + columns],
                                       captions[start:start + columns]):
            col.image(enlarge(image, scale), caption=caption)


def random_test_row(dataset: Dataset, *, key: str, leakfree: bool = False) -> int | None:
    """Buttons that draw a random real, fake or either test image; the drawn row (kept in the
    session until the next draw) or None when the dataset has no test images."""
    rows = np.flatnonzero(dataset.splits == 1)
    if leakfree:
        rows = rows[~np.isin(rows, duplicate_leaked_rows(dataset))]
    if not len(rows):
        st.warning("This dataset has no test images.")
        return None
    pick = None
    for column, (label, wanted) in zip(st.columns(3), [("Random real", 0), ("Random fake", 1),
                                                       ("Random, either", -1)]):
        if column.button(label, width="stretch", key=f"{key}_random_{wanted}"):
            pick = wanted
    fingerprint, row = st.session_state.get(key, ("", -1))
    if pick is not None or fingerprint != dataset.fingerprint:
        pool = rows if pick in (None, -1) else rows[dataset.labels[rows] == pick]
        row = int(np.random.default_rng().choice(pool if len(pool) else rows))
        st.session_state[key] = (dataset.fingerprint, row)
    return row


def duplicate_leaked_rows(dataset: Dataset) -> np.ndarray:
    """Test rows whose image also occurs in train, cached per dataset."""
    from core.data.quality import leakfree_test_mask

    return memo(("leaked", dataset.fingerprint), lambda: np.flatnonzero(
        (dataset.splits == 1) & ~leakfree_test_mask(dataset.hashes, dataset.splits)))


def class_filter(stats: DatasetStats, *, key: str) -> str:
    """A select box over ``stats.classes`` ("all" shown as "All classes")."""
    return st.selectbox(
        "CIFAR class", stats.classes, key=key,
        format_func=lambda c: "All classes" if c == "all" else c,
        help="Every statistic on this page can be restricted to one CIFAR-10 class.",
    )


def caption_for(dataset: Dataset, row: int) -> str:
    return f"{LABELS[dataset.labels[row]]} · {CLASS_NAMES[dataset.classes[row]]}"
