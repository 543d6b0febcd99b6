"""What the lesson views compute beyond the other pages: image boards (many small images as one
labelled picture), the images a step shows, the inconclusive band's effect on a model's test
scores, and the figures of the "how sure" and "where it fails" steps."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.analysis.dataset_figures import COLOURS
from core.data.imageio import enlarge
from core.data.sources import LABELS, Rows
from core.detect.detector import inconclusive_band

__all__ = ["BandSummary", "band_figure", "band_summary", "generators_figure", "image_board",
           "neighbour_agreement", "pair_rows", "quiz_rows", "robustness_panels"]

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_INK = (40, 40, 40)
_PALETTE = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"]


def _hex_rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def image_board(images: np.ndarray, *, scale: int = 3, row_labels: list[str] | None = None,
                column_labels: list[str] | None = None, borders: list[list[str]] | None = None,
                gap: int = 6, group: int = 0, font_scale: float = 0.7) -> np.ndarray:
    """Images laid out as one white picture, pixels enlarged with nearest-neighbour.

    Parameters
    ----------
    images : ndarray of shape (rows, columns, h, w, 3), dtype uint8
    row_labels : one text per row, drawn left of it
    column_labels : one text per column, drawn above it ("" for none)
    borders : a colour ("#rrggbb" or "") per image, drawn as a frame of ``gap // 2`` pixels
    group : when above 0, columns come in groups of ``group`` with a wider gap between groups
    """
    n_rows, n_cols, h, w = images.shape[:4]
    cell_h, cell_w = h * scale, w * scale
    text_h = int(30 * font_scale / 0.7)
    left = 0
    if row_labels:
        left = max(cv2.getTextSize(t, _FONT, font_scale, 2)[0][0] for t in row_labels) + 2 * gap
    top = text_h + gap if column_labels and any(column_labels) else 0
    xs = [left + gap + c * (cell_w + gap) + (3 * gap * (c // group) if group else 0)
          for c in range(n_cols)]
    canvas = np.full((top + n_rows * (cell_h + gap) + gap, xs[-1] + cell_w + gap, 3), 255,
                     np.uint8)
    for r in range(n_rows):
        y = top + gap + r * (cell_h + gap)
        if row_labels:
            size = cv2.getTextSize(row_labels[r], _FONT, font_scale, 2)[0]
            cv2.putText(canvas, row_labels[r], (gap, y + (cell_h + size[1]) // 2), _FONT,
                        font_scale, _INK, 2, cv2.LINE_AA)
        for c, x in enumerate(xs):
            colour = borders[r][c] if borders else ""
            if colour:
                edge = max(gap // 2, 2)
                canvas[y - edge:y + cell_h + edge, x - edge:x + cell_w + edge] = _hex_rgb(colour)
            canvas[y:y + cell_h, x:x + cell_w] = enlarge(images[r, c], scale)
    for x, text in zip(xs, column_labels or []):
        if text:
            cv2.putText(canvas, text, (x, text_h), _FONT, font_scale, _INK, 2, cv2.LINE_AA)
    return canvas


def pair_rows(index: Rows, classes: list[int], per_class: int, *, split: int,
              seed: int) -> tuple[list[int], np.ndarray]:
    """Rows of ``per_class`` REAL and ``per_class`` FAKE images of each class in ``classes``:
    the classes that have both, and an array of shape (2, n_classes * per_class) (REAL first)."""
    kept: list[int] = []
    rows: list[list[int]] = [[], []]
    for c in classes:
        found = [index.sample(per_class, seed=seed + c, split=split, label=label, class_index=c)
                 for label in (0, 1)]
        if all(len(f) == per_class for f in found):
            kept.append(c)
            for label in (0, 1):
                rows[label] += sorted(found[label].tolist())
    return kept, np.asarray(rows, dtype=int).reshape(2, -1)


def quiz_rows(index: Rows, n: int, *, seed: int, split: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows of ``split`` (half REAL, half FAKE, one more FAKE when ``n`` is odd) in a
    seeded random order, and their labels (0 REAL, 1 FAKE); fewer when the split lacks them."""
    rng = np.random.default_rng(seed)
    picked = [index.sample(k, seed=seed + label, split=split, label=label)
              for label, k in ((0, n // 2), (1, n - n // 2))]
    rows = rng.permutation(np.concatenate(picked).astype(int))
    return rows, np.asarray(index.labels)[rows].astype(int)


def neighbour_agreement(coords: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """The mean share of each point's ``k`` nearest neighbours on a 2-D map that have its label:
    about 0.5 where two balanced labels are mixed at random, 1.0 where they are separated."""
    from sklearn.neighbors import NearestNeighbors  # imported on use: pages load faster

    labels = np.asarray(labels)
    k = min(k, len(labels) - 1)
    _, neighbours = NearestNeighbors(n_neighbors=k + 1).fit(coords).kneighbors(coords)
    return float((labels[neighbours[:, 1:]] == labels[:, None]).mean())


@dataclass(frozen=True)
class BandSummary:
    """A model's test scores with an inconclusive band around its threshold."""

    low: float
    high: float
    inconclusive_share: float  # of all images
    accuracy_all: float  # at the threshold, every image decided
    accuracy_decided: float  # on the images outside the band
    n: int


def band_summary(p_fake: np.ndarray, labels: np.ndarray, threshold: float,
                 band: float) -> BandSummary:
    """How many images the band leaves undecided and the accuracy on the others."""
    p_fake, labels = np.asarray(p_fake, dtype=float), np.asarray(labels)
    low, high = inconclusive_band(threshold, band)
    inside = (p_fake >= low) & (p_fake < high)
    right = (p_fake >= threshold) == (labels == 1)
    decided = ~inside
    return BandSummary(low, high, float(inside.mean()), float(right.mean()),
                       float(right[decided].mean()) if decided.any() else float("nan"),
                       len(p_fake))


def band_figure(p_fake: np.ndarray, labels: np.ndarray, threshold: float, band: float,
                *, height: int = 320) -> go.Figure:
    """Histogram of a model's test P(FAKE), REAL and FAKE images stacked (log count), with the
    threshold and the inconclusive band shaded."""
    p_fake, labels = np.asarray(p_fake, dtype=float), np.asarray(labels)
    low, high = inconclusive_band(threshold, band)
    fig = go.Figure()
    for value, label in enumerate(LABELS):
        fig.add_histogram(x=p_fake[labels == value], name=f"{label} images",
                          marker_color=COLOURS[label], xbins=dict(start=0, end=1.0001, size=0.025))
    if high > low:
        fig.add_vrect(x0=low, x1=high, fillcolor="grey", opacity=0.25, line_width=0,
                      annotation_text="inconclusive", annotation_position="top left")
    fig.add_vline(x=threshold, line=dict(color="black", dash="dot"))
    fig.update_xaxes(title_text="P(FAKE)", range=[0, 1])
    fig.update_yaxes(title_text="test images (log scale)", type="log")
    return fig.update_layout(barmode="stack", height=height, margin=dict(l=10, r=10, t=40, b=10),
                             legend=dict(orientation="h", y=1.12, x=1, xanchor="right"))


def robustness_panels(report: dict, models: list[str], kinds: list[str],
                      metric: str = "accuracy", *, height: int = 340) -> go.Figure:
    """One panel per chosen perturbation of ``models/robustness.json``: ``metric`` against
    severity (clean first), a line per model."""
    fig = make_subplots(rows=1, cols=len(kinds), shared_yaxes=True,
                        subplot_titles=[report["perturbations"][k]["label"] for k in kinds])
    for m, name in enumerate(models):
        result, colour = report["models"][name], _PALETTE[m % len(_PALETTE)]
        for i, kind in enumerate(kinds):
            x = [str(s) for s in report["perturbations"][kind]["severities"]]
            fig.add_scatter(x=["clean", *x], y=[result["clean"][metric],
                                                *(result[kind][s][metric] for s in x)],
                            mode="lines+markers", name=name, legendgroup=name,
                            showlegend=i == 0, line=dict(color=colour, width=3), row=1,
                            col=i + 1, hovertemplate=f"{name}<br>%{{x}}: %{{y:.3f}}<extra></extra>")
            fig.update_xaxes(title_text=report["perturbations"][kind]["unit"], type="category",
                             row=1, col=i + 1)
    fig.update_yaxes(title_text="accuracy" if metric == "accuracy" else "AUROC", row=1, col=1)
    fig.update_yaxes(range=[0.4, 1.0])
    return fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10),
                             legend=dict(orientation="h", y=-0.3, yanchor="top", x=0))


def generators_figure(report: dict, models: list[str], metric: str = "accuracy", *,
                      height: int = 340) -> go.Figure:
    """Grouped bars from ``models/generalization.json``: for each chosen model, the share of
    each fake source's images it calls FAKE (``metric="accuracy"``) or its AUROC."""
    key = "fake_recall" if metric == "accuracy" else "auroc"
    shown = [m for m in models if m in report["shipped"]]
    fig = go.Figure()
    for i, (source, info) in enumerate(report["sources"].items()):
        fig.add_bar(name=info["title"], x=shown, marker_color=_PALETTE[i % len(_PALETTE)],
                    y=[report["shipped"][m]["tests"][source][key] for m in shown],
                    texttemplate="%{y:.0%}" if key == "fake_recall" else "%{y:.2f}",
                    textposition="outside", textangle=0, cliponaxis=False,
                    hovertemplate=f"{info['title']}: %{{y:.3f}}<extra>%{{x}}</extra>")
    title = "share of fakes caught" if key == "fake_recall" else "AUROC"
    fig.update_yaxes(title_text=title, range=[0, 1.12],
                     tickformat=".0%" if key == "fake_recall" else None)
    return fig.update_layout(barmode="group", height=height, margin=dict(l=10, r=10, t=10, b=10),
                             legend=dict(orientation="v", y=-0.15, yanchor="top", x=0))
