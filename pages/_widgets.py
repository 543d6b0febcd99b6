"""Widgets and panels the pages share: markdown escaping, progress bars, the how-to-get-the-data
panel, image grids, the class filter and image captions."""

from __future__ import annotations

import base64
import html

import numpy as np
import streamlit as st

from core.data.imageio import png_bytes
from core.data.sources import CLASS_NAMES, LABELS, Rows
from pages import _url

KAGGLE_URL = "https://www.kaggle.com/datasets/birdy654/cifake-real-and-ai-generated-synthetic-images"


def escape_markdown(text: str) -> str:
    """Show paths and patterns such as ``train/REAL/*.jpg`` literally in markdown widgets."""
    return "".join("\\" + ch if ch in "*_`[]<>#" else ch for ch in text)


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
    """Images enlarged ``scale`` times with nearest-neighbour (pixels stay visible), in rows of
    ``columns``, each with its caption: one element holding small PNGs that the browser
    enlarges, not one element (and one download) per image."""
    cells = "".join(
        f'<figure style="margin:0;text-align:center">'
        f'<img src="data:image/png;base64,{base64.b64encode(png_bytes(image)).decode()}" '
        f'alt="{html.escape(caption)}" style="width:min(100%,{scale * image.shape[1]}px);'
        f'image-rendering:pixelated">'
        f'<figcaption style="font-size:0.8rem;opacity:0.6">{html.escape(caption)}</figcaption>'
        f"</figure>"
        for image, caption in zip(images, captions))
    st.html(f'<div data-testid="image-grid" style="display:grid;gap:0.5rem;grid-template-columns:'
            f'repeat({columns},minmax(0,1fr))">{cells}</div>')


def class_filter(classes: list[str], *, key: str) -> str:
    """A select box over class names, ``"all"`` first (shown as "All classes"), kept in the
    URL under ``key``."""
    return _url.bound(
        st.selectbox, "CIFAR class", classes, key=key,
        format_func=lambda c: "All classes" if c == "all" else c,
        help="Every statistic on this page can be restricted to one CIFAR-10 class.",
    )


def caption_for(index: Rows, row: int) -> str:
    return f"{LABELS[index.labels[row]]} · {CLASS_NAMES[index.classes[row]]}"
