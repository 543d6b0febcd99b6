"""The data source of every page: the sidebar's dataset path and image size, the source's listing
(and whether it is the CIFAKE of the committed summary), the dataset decoded and its features,
statistics, embeddings and duplicate groups computed once per process, a few images read without
decoding the rest, random test images, and uploaded files decoded once per content."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import streamlit as st

from core.analysis.embed import SPACES, Embedding, Space
from core.analysis.stats import DatasetStats
from core.analysis.summary import (
    dataset_embedding,
    dataset_features,
    dataset_stats,
    read_committed_embedding,
    read_committed_stats,
)
from core.data.dataset import DEFAULT_SIZE, Dataset, decode_rows, load_dataset
from core.data.imageio import ImageInfo, decode_image, describe_image
from core.data.quality import leakfree_test_mask
from core.data.sources import (
    LABELS,
    SPLITS,
    Listing,
    Rows,
    listing_fingerprint,
    resolve_source,
    scan_source,
)
from core.errors import DataError, ImageError
from pages import _url
from pages._widgets import escape_markdown, progress_into

SIZES = (32, 64, 128)


# ---------------------------------------------------------------- the sidebar

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


@st.cache_resource(show_spinner="Listing files…", max_entries=4)
def listing(path: str, mtime: int) -> Listing:
    """The source's listing (no decoding); raises DataError."""
    return scan_source(path)


@st.cache_data(show_spinner=False, max_entries=4)
def _listing_fingerprint(path: str, mtime: int) -> str:
    return listing_fingerprint(listing(path, mtime))


@st.cache_data(show_spinner=False, max_entries=8)
def listing_counts(path: str, mtime: int) -> dict:
    """Counts per split and label from the file listing (no decoding); raises DataError."""
    found = listing(path, mtime)
    return {
        split: {label: int(((found.splits == s) & (found.labels == lab)).sum())
                for lab, label in enumerate(LABELS)}
        for s, split in enumerate(SPLITS)
    }


# ---------------------------------------------------------------- heavy work, once per process

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


def source_listing() -> Listing | None:
    """The chosen source's listing, or None when there is no usable source."""
    path, _ = source()
    return None if path is None else listing(str(path), _mtime(path))


def committed_match() -> DatasetStats | None:
    """The committed statistics when the chosen source is the CIFAKE they describe (the same
    listing fingerprint) at their image size, so nothing needs decoding to show them; else None."""
    path, _ = source()
    stats = committed_stats()
    if path is None or stats is None or image_size() != stats.meta["size"]:
        return None
    matches = _listing_fingerprint(str(path), _mtime(path)) == stats.meta.get("listing_fingerprint")
    return stats if matches else None


def image_index() -> Rows | None:
    """Where a page gets a few images from: the listing of the CIFAKE of the committed summary
    (read row by row, nothing decoded in full), else the decoded dataset; None without data."""
    if source()[0] is None:
        return None
    return source_listing() if committed_match() is not None else decoded_dataset()


def images(index: Rows, rows) -> np.ndarray:
    """The images of the given rows: from the decoded dataset, or read from the source when
    ``index`` is its listing (fast for a few rows: nothing else is decoded)."""
    rows = np.asarray(rows, dtype=int)
    if isinstance(index, Dataset):
        return index.images[rows]
    return decode_rows(index, rows, image_size())


def decoded_dataset() -> Dataset | None:
    """The chosen dataset decoded (with a progress bar the first time, and the skipped files
    listed); None (with the reason shown) when no dataset is usable."""
    path, _ = source()
    if path is None:
        return None
    placeholder = st.empty()
    size = image_size()
    try:
        dataset = memo(("dataset", str(path), _mtime(path), size),
                       lambda: load_dataset(path, size=size, progress=progress_into(placeholder)),
                       keep=2)
    except DataError as exc:
        placeholder.empty()
        st.error(escape_markdown(f"Cannot use {path}: {exc}"), icon=":material/error:")
        return None
    placeholder.empty()
    if dataset.skipped:
        with st.expander(f"{len(dataset.skipped):,} file(s) skipped: not readable as images"):
            st.dataframe({"file": [p for p, _ in dataset.skipped],
                          "reason": [r for _, r in dataset.skipped]}, hide_index=True)
    return dataset


def features_of(dataset: Dataset) -> np.ndarray:
    """``feature_table`` of every image, with a progress bar the first time."""
    placeholder = st.empty()
    features = memo(("features", dataset.fingerprint),
                    lambda: dataset_features(dataset, progress=progress_into(placeholder)))
    placeholder.empty()
    return features


def stats_of(dataset: Dataset) -> DatasetStats:
    """The dataset's statistics (and features), with a progress bar the first time."""
    features = features_of(dataset)
    placeholder = st.empty()
    stats = memo(("stats", dataset.fingerprint),
                 lambda: dataset_stats(dataset, features, progress=progress_into(placeholder)))
    placeholder.empty()
    return stats


def embedding(dataset: Dataset, features: np.ndarray, *, space: str, method: str, n: int,
              seed: int = 0, spaces: Mapping[str, Space] = SPACES) -> Embedding:
    """A stratified sample embedded in 2-D, with a progress bar while it is computed (cached in
    memory and on disk)."""
    placeholder = st.empty()
    result = memo(
        ("embedding", dataset.fingerprint, space, method, n, seed),
        lambda: dataset_embedding(dataset, features, space=space, method=method, n=n, seed=seed,
                                  spaces=spaces, progress=progress_into(placeholder)),
        keep=32,
    )
    placeholder.empty()
    return result


def _leakfree(dataset: Dataset) -> np.ndarray:
    """``leakfree_test_mask`` of the dataset, cached per dataset."""
    return memo(("leakfree", dataset.fingerprint),
                lambda: leakfree_test_mask(dataset.hashes, dataset.splits))


def random_test_row(index: Rows, *, key: str = "image", leakfree: bool = False) -> int | None:
    """Buttons that draw a random real, fake or either test image (leak-free ones when asked;
    that needs a decoded dataset); the row shown, or None when there are no test images.

    The image is kept in the URL under ``key`` as its number among those test images, so a link
    opens the same image; without one, an image is drawn."""
    mask = _leakfree(index) if leakfree else index.splits == 1
    rows = np.flatnonzero(mask)
    if not len(rows):
        st.warning("This dataset has no test images.")
        return None
    pick = None
    for column, (label, wanted) in zip(st.columns(3), [("Random real", 0), ("Random fake", 1),
                                                       ("Random, either", -1)]):
        if column.button(label, width="stretch", key=f"{key}_random_{wanted}"):
            pick = wanted
    number = _url.get_int(key, len(rows))
    if pick is not None or number is None:
        numbers = np.flatnonzero(index.labels[rows] == pick) if pick in (0, 1) else []
        number = int(np.random.default_rng(secrets.randbits(32)).choice(
            numbers if len(numbers) else len(rows)))
        _url.put(key, number)
    st.caption(f"Test image no. {number:,} of {len(rows):,}{' leak-free' if leakfree else ''} "
               "test images (its number is in this view's link)")
    return int(rows[number])


@st.cache_resource(show_spinner=False)
def committed_stats() -> DatasetStats | None:
    return read_committed_stats()


@st.cache_resource(show_spinner=False)
def committed_embedding() -> dict | None:
    return read_committed_embedding()


# ---------------------------------------------------------------- uploads

@st.cache_data(show_spinner=False, max_entries=8)
def decoded(data: bytes) -> tuple[np.ndarray | None, ImageInfo | None, str]:
    """An uploaded file's pixels and header facts, or ``(None, None, reason)`` when it cannot be
    read (decoded once per file content)."""
    try:
        return decode_image(data), describe_image(data), ""
    except ImageError as exc:
        return None, None, str(exc)
