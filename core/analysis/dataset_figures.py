"""Plotly figures of dataset statistics and embeddings (REAL vs FAKE), shared by the app's pages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.analysis.stats import LOG_SCALE_FEATURES, DatasetStats, frequency_axis
from core.data.sources import CLASS_NAMES, LABELS, SPLITS

__all__ = [
    "COLOURS",
    "FEATURE_TITLES",
    "box_figure",
    "embedding_figure",
    "feature_hist_figure",
    "pixel_hist_figure",
    "points_frame",
    "radial_figure",
    "spectrum_figure",
]

COLOURS = {"REAL": "#1f77b4", "FAKE": "#d62728"}
FEATURE_TITLES = {
    "laplacian_var": "Blur: Laplacian variance",
    "background_residual": "Background defects",
    "brightness": "Brightness",
    "contrast": "Contrast",
    "saturation": "Saturation",
    "mean_r": "Mean red",
    "mean_g": "Mean green",
    "mean_b": "Mean blue",
    "hf_ratio": "High-frequency share",
}
_LAYOUT = dict(margin=dict(l=10, r=10, t=80, b=10),
               legend=dict(orientation="h", yanchor="bottom", y=1.1, xanchor="right", x=1))


def pixel_hist_figure(stats: DatasetStats, class_name: str) -> go.Figure:
    """Share of pixels at each intensity, one panel per RGB channel, REAL vs FAKE."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=("Red", "Green", "Blue"), shared_yaxes=True)
    for label in LABELS:
        hist = np.asarray(stats.group(class_name, label)["pixel_hist"], dtype=float)
        share = hist / max(hist[0].sum(), 1)
        for ch in range(3):
            fig.add_trace(go.Scatter(
                x=np.arange(256), y=share[ch], name=label, legendgroup=label,
                showlegend=ch == 0, line=dict(color=COLOURS[label], width=1.5),
            ), row=1, col=ch + 1)
    fig.update_xaxes(title_text="intensity (0-255)")
    fig.update_yaxes(title_text="share of pixels", row=1, col=1)
    return fig.update_layout(height=320, **_LAYOUT)


def feature_hist_figure(stats: DatasetStats, class_name: str, feature: str) -> go.Figure:
    """Share of images per feature-value bin, REAL vs FAKE, overlaid."""
    edges = np.asarray(stats.feature_edges[feature])
    if feature in LOG_SCALE_FEATURES:
        centres = np.sqrt(edges[:-1] * edges[1:])
    else:
        centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure()
    for label in LABELS:
        group = stats.group(class_name, label)
        counts = np.asarray(group["feature_hist"][feature], dtype=float)
        fig.add_trace(go.Bar(
            x=centres, y=counts / max(group["n"], 1), width=np.diff(edges), name=label,
            marker_color=COLOURS[label], opacity=0.55,
        ))
    fig.update_layout(barmode="overlay", height=300, title=FEATURE_TITLES[feature], **_LAYOUT)
    fig.update_yaxes(title_text="share of images")
    if feature in LOG_SCALE_FEATURES:
        fig.update_xaxes(type="log", title_text=f"{feature} (log scale)")
    return fig


def box_figure(stats: DatasetStats, class_name: str, features: list[str]) -> go.Figure:
    """Box plots (Tukey: box = quartiles, whiskers = 1.5 IQR) per feature, REAL vs FAKE, with
    the most extreme outliers as points."""
    fig = make_subplots(rows=1, cols=len(features),
                        subplot_titles=[FEATURE_TITLES[f] for f in features])
    for col, feature in enumerate(features, start=1):
        for label in LABELS:
            box = stats.group(class_name, label)["feature_box"][feature]
            fig.add_trace(go.Box(
                x=[label], q1=[box["q1"]], median=[box["median"]], q3=[box["q3"]],
                lowerfence=[box["lower_fence"]], upperfence=[box["upper_fence"]],
                mean=[box["mean"]], name=label, marker_color=COLOURS[label],
                legendgroup=label, showlegend=col == 1, boxpoints=False,
            ), row=1, col=col)
            fig.add_trace(go.Scatter(
                x=[label] * len(box["outliers"]), y=box["outliers"], mode="markers",
                marker=dict(color=COLOURS[label], size=4, symbol="circle-open"),
                name=f"{label} outliers ({box['n_outliers']:,} in all)",
                legendgroup=label, showlegend=False,
                hovertemplate=(f"{label} outlier: %{{y:.3g}}"
                               f"<extra>{box['n_outliers']:,} outliers in all</extra>"),
            ), row=1, col=col)
    return fig.update_layout(height=380, **_LAYOUT)


def spectrum_figure(stats: DatasetStats, class_name: str) -> go.Figure:
    """Mean log-magnitude spectrum of REAL, of FAKE, and FAKE minus REAL (centre = lowest
    frequency)."""
    real = np.asarray(stats.group(class_name, "REAL")["spectrum"])
    fake = np.asarray(stats.group(class_name, "FAKE")["spectrum"])
    diff = fake - real
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.08,
                        subplot_titles=("REAL", "FAKE", "FAKE − REAL"))
    limit = float(np.abs(diff).max()) or 1.0
    lo, hi = float(min(real.min(), fake.min())), float(max(real.max(), fake.max()))
    for col, (image, scale, zmin, zmax, x) in enumerate([
        (real, "Viridis", lo, hi, 0.27), (fake, "Viridis", lo, hi, 0.63),
        (diff, "RdBu_r", -limit, limit, 1.0),
    ], start=1):
        fig.add_trace(go.Heatmap(
            z=image, colorscale=scale, zmin=zmin, zmax=zmax,
            colorbar=dict(x=x, len=0.9, thickness=10) if col != 1 else None,
            showscale=col != 1, hovertemplate="log-magnitude %{z:.3f}<extra></extra>",
        ), row=1, col=col)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False, autorange="reversed", scaleanchor="x")
    return fig.update_layout(height=330, margin=dict(l=10, r=10, t=40, b=10))


def radial_figure(stats: DatasetStats, class_name: str) -> go.Figure:
    """Mean power per spatial frequency (azimuthal average), REAL vs FAKE, log scale."""
    fig = go.Figure()
    freq = frequency_axis(stats.meta["size"])
    for label in LABELS:
        power = np.asarray(stats.group(class_name, label)["radial_power"])
        fig.add_trace(go.Scatter(x=freq[1:], y=power[1:], name=label, mode="lines+markers",
                                 line=dict(color=COLOURS[label])))
    fig.update_xaxes(title_text="spatial frequency (cycles per pixel; 0.5 = finest)")
    fig.update_yaxes(type="log", title_text="mean power")
    return fig.update_layout(height=330, title="Radial power spectrum", **_LAYOUT)


def embedding_figure(points: pd.DataFrame, colour_by: str, title: str) -> go.Figure:
    """Scatter of 2-D embedding ``points`` (columns x, y, label, class, split, path) coloured by
    "label" or "class"; each point's ``customdata`` is its position in ``points``."""
    fig = go.Figure()
    groups = (LABELS if colour_by == "label"
              else [c for c in CLASS_NAMES if (points["class"] == c).any()])
    for name in groups:
        part = points[points[colour_by] == name]
        fig.add_trace(go.Scattergl(
            x=part["x"], y=part["y"], mode="markers", name=name,
            customdata=np.column_stack([part.index.to_numpy(), part["path"], part["label"],
                                        part["class"]]),
            marker=dict(size=5, opacity=0.75, color=COLOURS.get(name)),
            hovertemplate="%{customdata[1]}<br>%{customdata[2]} · %{customdata[3]}<extra></extra>",
        ))
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    return fig.update_layout(
        height=560, title=title, dragmode="lasso", margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", yanchor="top", y=-0.01, xanchor="left", x=0),
    )


def points_frame(coords: np.ndarray, labels, classes, splits, paths, rows) -> pd.DataFrame:
    """One row per embedded point, with readable label, class and split names."""
    return pd.DataFrame({
        "x": coords[:, 0], "y": coords[:, 1],
        "label": np.asarray(LABELS)[np.asarray(labels)],
        "class": np.asarray(CLASS_NAMES)[np.asarray(classes)],
        "split": np.asarray(SPLITS)[np.asarray(splits)],
        "path": np.asarray(paths), "row": np.asarray(rows),
    })

