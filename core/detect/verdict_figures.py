"""Figures and tables of the prediction pages: P(FAKE) per model with thresholds and the
inconclusive band, the tile map of a large image, the stability table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.detect.detector import ENSEMBLE, INCONCLUSIVE_BAND, Detector, inconclusive_band, verdict
from core.detect.stability import Stability
from core.detect.tiles import TileScores

__all__ = ["VERDICT_COLOURS", "scores_figure", "scores_frame", "stability_frame", "tiles_figure"]

VERDICT_COLOURS = {"FAKE": "#d62728", "REAL": "#1f77b4", "inconclusive": "#9e9e9e"}


def scores_frame(scores: dict[str, np.ndarray], detector: Detector, *,
                 band: float = INCONCLUSIVE_BAND, index: int = 0) -> pd.DataFrame:
    """One row per model and the ensemble: P(FAKE) of image ``index``, threshold, verdict."""
    rows = []
    for name in [*detector.names, ENSEMBLE]:
        p, t = float(scores[name][index]), detector.threshold(name)
        rows.append({"model": name, "family": detector.families.get(name, "ensemble"),
                     "P(FAKE)": p, "threshold": t, "verdict": verdict(p, t, band)})
    return pd.DataFrame(rows)


def scores_figure(frame: pd.DataFrame, *, band: float = INCONCLUSIVE_BAND) -> go.Figure:
    """Horizontal bars of P(FAKE) per model coloured by verdict, each model's threshold as a
    black tick and its inconclusive band as a grey span."""
    fig = go.Figure()
    fig.add_bar(
        y=frame["model"], x=frame["P(FAKE)"], orientation="h",
        marker_color=[VERDICT_COLOURS[v] for v in frame["verdict"]],
        text=[f"{p:.2f} · {v}" for p, v in zip(frame["P(FAKE)"], frame["verdict"])],
        textposition="outside", cliponaxis=False, name="P(FAKE)",
        hovertemplate="%{y}: P(FAKE) %{x:.3f}<extra></extra>",
    )
    for i, t in enumerate(frame["threshold"]):
        low, high = inconclusive_band(t, band)
        fig.add_shape(type="rect", x0=low, x1=high, y0=i - 0.45,
                      y1=i + 0.45, fillcolor="rgba(0,0,0,0.08)", line_width=0, layer="below")
        fig.add_shape(type="line", x0=t, x1=t, y0=i - 0.45, y1=i + 0.45,
                      line=dict(color="black", width=2))
    fig.update_layout(
        xaxis=dict(range=[0, 1.18], title="P(FAKE)", tickvals=[0, 0.25, 0.5, 0.75, 1]),
        yaxis=dict(autorange="reversed", title=None), showlegend=False,
        height=80 + 28 * len(frame), margin=dict(l=10, r=10, t=10, b=10),
    )
    return fig


def tiles_figure(image: np.ndarray, tiles: TileScores) -> go.Figure:
    """The image with each analysed region outlined and coloured by its P(FAKE)."""
    fig = go.Figure(go.Image(z=image, hoverinfo="skip"))
    threshold = tiles.threshold
    for (top, left, bottom, right), p in zip(tiles.boxes, tiles.p_fake):
        colour = VERDICT_COLOURS["FAKE" if p >= threshold else "REAL"]
        fig.add_shape(type="rect", x0=left, x1=right, y0=top, y1=bottom,
                      line=dict(color="white", width=1), fillcolor=colour,
                      opacity=(0.15 + 0.5 * abs(float(p) - threshold)
                               / max(threshold, 1 - threshold)))
        fig.add_annotation(x=(left + right) / 2, y=(top + bottom) / 2, text=f"{p:.2f}",
                           showarrow=False, font=dict(color="white", size=14),
                           bgcolor="rgba(0,0,0,0.45)")
    fig.update_layout(margin=dict(l=0, r=0, t=0, b=0), height=420,
                      xaxis=dict(visible=False), yaxis=dict(visible=False))
    return fig


def stability_frame(result: Stability, detector: Detector, *, index: int = 0) -> pd.DataFrame:
    """One row per model and the ensemble: P(FAKE) of image ``index`` originally and under
    each change, ``"unstable"`` when some change crosses the threshold, and which ones do."""
    rows = []
    for name in [*detector.names, ENSEMBLE]:
        flipped_by = result.flipped_by(name, index)
        row = {"model": name, "verdict holds": "unstable" if flipped_by else "stable",
               "flipped by": ", ".join(flipped_by), "original": float(result.original[name][index])}
        row.update({check: float(scores[name][index]) for check, scores in result.degraded.items()})
        rows.append(row)
    return pd.DataFrame(rows)
