"""The lesson's views of the data, one function per view of ``core.labs.lesson_views.VIEWS``,
each taking the step's settings and a context (the views of the models are in
``_lesson_model_views``); ``views()`` maps every view name to its function.

Each view computes a live result through ``core``, cached like the pages (the dataset, its
statistics and the committed summary through ``_data``); without the dataset it falls back to
the committed numbers where it can and says what needs the images."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from core.analysis import dataset_figures
from core.analysis.embed import cnn_space
from core.data.sources import CLASS_NAMES, LABELS, SPLITS
from core.labs import lesson_material
from core.labs import lessons as lesson_files
from pages import _data, _model_cache


@dataclass(frozen=True)
class Context:
    """Where a view is drawn: ``key`` prefixes its widget keys (one per lesson step), and
    ``controls`` is False in presenter mode (the view's own controls are hidden)."""

    key: str
    lesson_id: str
    controls: bool


# ---------------------------------------------------------------- shared helpers

@st.cache_resource(show_spinner=False, max_entries=4)
def _lessons(folder: str, files: tuple) -> lesson_files.Lessons:
    return lesson_files.load_lessons(folder)


def lessons() -> lesson_files.Lessons:
    """The lessons of ``lessons/``, read again when a file is added, removed or changed."""
    folder = lesson_files.LESSONS_DIR
    try:
        files = tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size)
                             for p in folder.glob("*.toml")))
    except OSError:
        files = ()
    return _lessons(str(folder), files)


def source_key() -> tuple | None:
    """What the chosen data source's results depend on (path, modification time, image size);
    None without a source."""
    path, _ = _data.source()
    if path is None:
        return None
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        mtime = 0
    return str(path), mtime, _data.image_size()


def needs_data(what: str) -> None:
    st.info(f"{what}: not shown, the CIFAKE images are not on this server (the Home page says "
            "how to get them).", icon=":material/image_not_supported:")


def scale_for(size: int, target: int = 96) -> int:
    """Enlargement that shows an image of ``size`` pixels about ``target`` pixels wide."""
    return max(1, target // size)


def shown_stats():
    """(identity, statistics) the histogram views draw: the committed full-CIFAKE numbers
    without a dataset or with the CIFAKE they describe, else the dataset's own (computed once);
    None when there are none."""
    if _data.source()[0] is None:
        stats = _data.committed_stats()
        return None if stats is None else ("committed", stats)
    committed = _data.committed_match()
    if committed is not None:
        return "committed", committed
    dataset = _data.decoded_dataset()
    return None if dataset is None else (dataset.fingerprint, _data.stats_of(dataset))


def stats_or_stop():
    shown = shown_stats()
    if shown is None:
        st.error("No statistics to show: no dataset and no committed summary "
                 "(`python -m core stats`).")
    return shown


_FIGURES = {
    "pixels": lambda stats, c: dataset_figures.pixel_hist_figure(stats, c),
    "blur": lambda stats, c: dataset_figures.feature_hist_figure(stats, c, "laplacian_var"),
    "background": lambda stats, c: dataset_figures.feature_hist_figure(stats, c,
                                                                       "background_residual"),
    "spectrum": lambda stats, c: dataset_figures.spectrum_figure(stats, c),
    "radial": lambda stats, c: dataset_figures.radial_figure(stats, c),
}


@st.cache_data(show_spinner=False, max_entries=128)
def stats_figure(kind: str, stats_key: str, class_name: str, _stats):
    """A figure of the statistics (built once per statistics, class and kind)."""
    return _FIGURES[kind](_stats, class_name)


def chart(figure, key: str, ctx: Context, *, presenter_height: int | None = None) -> None:
    """A plotly chart; in presenter mode with larger type (and ``presenter_height``)."""
    if not ctx.controls:  # explicit sizes: the app's chart theme would replace a layout font
        figure.update_xaxes(tickfont_size=14, title_font_size=16)
        figure.update_yaxes(tickfont_size=14, title_font_size=16)
        figure.update_layout(legend_font_size=15)
        figure.update_annotations(font_size=16)
        figure.update_traces(textfont_size=15, selector=dict(type="bar"))
        if presenter_height:
            figure.update_layout(height=presenter_height)
    st.plotly_chart(figure, key=key)


def class_choice(settings: Mapping, ctx: Context, classes: list[str]) -> str:
    """The class of a statistics view: the lesson's, or the student's choice in student mode."""
    chosen = settings["class"] if settings["class"] in classes else "all"
    if not ctx.controls:
        return chosen
    return st.selectbox("CIFAR class", classes, index=classes.index(chosen),
                        key=f"{ctx.key}_class", width=260,
                        format_func=lambda c: "All classes" if c == "all" else c)


def number(value: float) -> str:
    """A statistic for reading out: whole numbers from 100 up, three digits below."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def medians(stats, class_name: str, feature: str) -> str:
    real, fake = (stats.group(class_name, label)["feature_box"][feature]["median"]
                  for label in LABELS)
    return f"median REAL **{number(real)}**, FAKE **{number(fake)}**"


def reshuffle(ctx: Context, label: str = "Other images") -> int:
    """A button that draws other images (student mode); the offset to add to the seed."""
    offset_key = f"{ctx.key}_offset"
    if ctx.controls and st.button(label, key=f"{ctx.key}_reshuffle",
                                  icon=":material/shuffle:"):
        st.session_state[offset_key] = st.session_state.get(offset_key, 0) + 1
    return st.session_state.get(offset_key, 0)


@st.cache_data(show_spinner=False, max_entries=64)
def images_of(source: tuple, rows: tuple[int, ...], _index) -> np.ndarray:
    """The images of a few rows of the source (read once per source and rows)."""
    return _data.images(_index, list(rows))


# ---------------------------------------------------------------- views

def text(settings: Mapping, ctx: Context) -> None:
    """The step's text is the whole step."""


@st.cache_data(show_spinner=False, max_entries=32)
def pairs_board(source: tuple, classes: tuple[str, ...], per_class: int, split: str, seed: int,
                _index) -> tuple[np.ndarray | None, list[str]]:
    """REAL over FAKE images of the same classes as one picture, and the classes it shows."""
    wanted = [CLASS_NAMES.index(c) for c in classes]
    kept, rows = lesson_material.pair_rows(_index, wanted, per_class,
                                           split=SPLITS.index(split), seed=seed)
    if not kept:  # a dataset without CIFAKE's class names
        kept, rows = lesson_material.pair_rows(_index, [0], per_class * len(classes),
                                               split=SPLITS.index(split), seed=seed)
        per_class = per_class * len(classes)
    if not kept:
        return None, []
    images = _data.images(_index, rows.ravel())
    grid = images.reshape(2, -1, *images.shape[1:])
    labels = [CLASS_NAMES[c] if c and i == 0 else "" for c in kept for i in range(per_class)]
    board = lesson_material.image_board(grid, scale=scale_for(images.shape[1]),
                                        row_labels=list(LABELS), column_labels=labels,
                                        group=per_class)
    return board, [CLASS_NAMES[c] for c in kept]


def real_vs_fake(settings: Mapping, ctx: Context) -> None:
    index = _data.image_index()
    if index is None:
        stats = _data.committed_stats()
        if stats is not None:
            st.dataframe(pd.DataFrame(stats.class_counts["test"]).T)
            st.caption("Test images per class and label in the full CIFAKE (committed "
                       "statistics); the training split has five times as many.")
        needs_data("Sample images")
        return
    offset = reshuffle(ctx)
    board, shown = pairs_board(source_key(), tuple(settings["classes"]), settings["per_class"],
                               settings["split"], settings["seed"] + offset, index)
    if board is None:
        st.warning(f"This dataset has no {settings['split']} images of both labels.")
        return
    st.image(board)
    st.caption(f"Top: REAL photos (CIFAR-10); bottom: FAKE images Stable Diffusion 1.4 made for "
               f"the same classes ({', '.join(shown)}), random {settings['split']} images at "
               f"{_data.image_size()}x{_data.image_size()} pixels, enlarged so every pixel shows.")


def quiz_items(settings: Mapping, ctx: Context) -> None:
    index = _data.image_index()
    if index is None:
        needs_data("Quiz images")
        return
    offset = reshuffle(ctx)
    rows, labels = lesson_material.quiz_rows(index, settings["n"],
                                             seed=settings["seed"] + offset)
    if not len(rows):
        st.warning("This dataset has no test images.")
        return
    images = images_of(source_key(), tuple(rows.tolist()), index)
    revealed_key = f"{ctx.key}_revealed_{offset}"
    revealed = st.session_state.get(revealed_key, False)
    letters = [chr(ord("A") + i) for i in range(len(rows))]
    names = [f"{letter} · {LABELS[y]}" if revealed else letter
             for letter, y in zip(letters, labels)]
    borders = [[dataset_figures.COLOURS[LABELS[y]] if revealed else "" for y in labels]]
    size = images.shape[1]
    st.image(lesson_material.image_board(images[None], scale=scale_for(size, 160),
                                         column_labels=names, borders=borders, gap=14,
                                         font_scale=0.9))
    st.button("Hide the answers" if revealed else "Reveal the answers", key=f"{ctx.key}_reveal",
              icon=":material/visibility:", type="secondary" if revealed else "primary",
              on_click=lambda: st.session_state.update({revealed_key: not revealed}))
    if revealed:
        st.markdown(" · ".join(
            f"**{letter}** {LABELS[y]} ({CLASS_NAMES[index.classes[r]]})"
            for letter, y, r in zip(letters, labels, rows)))
    else:
        st.caption("Real photo or AI-generated? Decide for each letter, then reveal.")


def pixel_histograms(settings: Mapping, ctx: Context) -> None:
    shown = stats_or_stop()
    if shown is None:
        return
    key, stats = shown
    class_name = class_choice(settings, ctx, stats.classes)
    chart(stats_figure("pixels", key, class_name, stats), f"{ctx.key}_pixels", ctx)
    features = ("mean_r", "mean_g", "mean_b", "brightness", "saturation")
    medians_of = {label: stats.group(class_name, label)["feature_box"] for label in LABELS}
    st.markdown("Medians, REAL / FAKE: " + " · ".join(
        f"{dataset_figures.FEATURE_TITLES[f].lower()} **{number(medians_of['REAL'][f]['median'])}"
        f"** / **{number(medians_of['FAKE'][f]['median'])}**" for f in features))
    st.caption("Channel means and brightness 0–255, saturation 0–1, over the images of each "
               "label.")


def blur_background(settings: Mapping, ctx: Context) -> None:
    shown = stats_or_stop()
    if shown is None:
        return
    key, stats = shown
    class_name = class_choice(settings, ctx, stats.classes)
    left, right = st.columns(2)
    for column, kind, feature in ((left, "blur", "laplacian_var"),
                                  (right, "background", "background_residual")):
        with column:
            chart(stats_figure(kind, key, class_name, stats), f"{ctx.key}_{kind}", ctx)
        column.caption(f"{medians(stats, class_name, feature)}. Higher: "
                       + ("sharper, more fine texture." if kind == "blur"
                          else "noisier, more textured background."))
    if not settings["examples"]:
        return
    index = _data.image_index()
    if index is None:
        needs_data("Example images")
        return
    st.markdown("**Highest background-defect scores**")
    for label in LABELS:
        top = stats.group(class_name, label)["top_background"][:8]
        rows = index.rows_of([t["path"] for t in top])
        rows = rows[rows >= 0]
        if len(rows):
            images = images_of(source_key(), tuple(rows.tolist()), index)
            st.image(lesson_material.image_board(images[None], scale=scale_for(images.shape[1], 64),
                                                 row_labels=[label]))


def spectrum(settings: Mapping, ctx: Context) -> None:
    shown = stats_or_stop()
    if shown is None:
        return
    key, stats = shown
    class_name = class_choice(settings, ctx, stats.classes)
    if settings["radial"]:
        left, right = st.columns([3, 2])
    else:
        left, right = st.container(), None
    with left:
        chart(stats_figure("spectrum", key, class_name, stats), f"{ctx.key}_spectrum", ctx)
    if right is not None:
        with right:
            chart(stats_figure("radial", key, class_name, stats), f"{ctx.key}_radial", ctx)
    st.caption(f"Centre: coarse shapes; edges: the finest detail. Share of the power in the fine "
               f"half of the frequencies: {medians(stats, class_name, 'hf_ratio')}.")


@st.cache_data(show_spinner=False, max_entries=16)
def embedding_maps(method: str, space: str, colour: str, _summary) -> tuple[list, list[float]]:
    """The committed sample's map on raw pixels and in ``space`` (figures), and the share of
    each point's 10 nearest neighbours with its label on each."""
    points = _summary["points"]
    figures, agreement = [], []
    for name, title in (("pixels", "raw pixels"), (space, "the CNN's features")):
        coords = np.asarray(_summary["coords"][f"{name}/{method}"])
        frame = dataset_figures.points_frame(coords, points["label"], points["class"],
                                             points["split"], points["path"],
                                             np.full(len(coords), -1))
        figure = dataset_figures.embedding_figure(
            frame, colour, f"{'t-SNE' if method == 'tsne' else 'PCA'} on {title}")
        figures.append(figure.update_layout(height=420, dragmode="pan"))
        agreement.append(lesson_material.neighbour_agreement(coords, points["label"]))
    return figures, agreement


def embedding_pair(settings: Mapping, ctx: Context) -> None:
    summary = _data.committed_embedding()
    method, colour = settings["method"], settings["colour"]
    if ctx.controls:
        c1, c2 = st.columns(2)
        method = c1.segmented_control("Method", ["tsne", "pca"], default=method,
                                      format_func={"tsne": "t-SNE", "pca": "PCA"}.get,
                                      key=f"{ctx.key}_method") or method
        colour = c2.segmented_control("Colour by", ["label", "class"], default=colour,
                                      key=f"{ctx.key}_colour") or colour
    report = next((r for r in _model_cache.model_reports() if r["name"] == settings["model"]),
                  None)
    space = cnn_space(settings["model"], report.get("sha256", "")) if report else None
    if summary is None or space is None or f"{space}/{method}" not in summary["coords"]:
        st.warning(f"The committed embedding has no {method} map in the features of "
                   f"{settings['model']} (this model file): run `python -m core stats --cnn "
                   f"{settings['model']}`.", icon=":material/warning:")
        return
    figures, agreement = embedding_maps(method, space, colour, summary)
    for column, figure, share, what in zip(st.columns(2), figures, agreement,
                                           ("raw pixels", f"{settings['model']}'s features")):
        with column:
            chart(figure, f"{ctx.key}_{what}", ctx, presenter_height=310)
        column.metric(f"Neighbours with the same label ({what})", f"{share:.0%}",
                      help="Of each image's 10 nearest dots on the map, the share with its own "
                           "label: 50 % for a random mix, 100 % for separate groups.")
    st.caption("The same 2,000 images (stratified by label and class) in both maps: committed "
               "coordinates (`python -m core stats`). Blue: REAL, red: FAKE.")


DATA_VIEWS: dict[str, Callable[[Mapping[str, Any], Context], None]] = {
    "text": text, "real_vs_fake": real_vs_fake, "quiz_items": quiz_items,
    "pixel_histograms": pixel_histograms, "blur_background": blur_background,
    "spectrum": spectrum, "embedding_pair": embedding_pair,
}


def views() -> dict[str, Callable[[Mapping[str, Any], Context], None]]:
    """Every view's function by name (the model views import this module, so they are added
    here on first use)."""
    from pages._lesson_model_views import MODEL_VIEWS

    return {**DATA_VIEWS, **MODEL_VIEWS}
