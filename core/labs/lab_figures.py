"""Figures of the labs and the quiz (plotly): the filter matrix, the cross-generator matrix and
every shipped model on every fake source, robustness and adversarial curves, the class's quiz
scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = ["adversarial_figure", "filter_matrix_figure", "filter_matrix_frame",
           "generalization_figure", "quiz_figure", "robustness_figure", "shipped_sources_figure"]

_PALETTE = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"]


def filter_matrix_frame(report: dict) -> pd.DataFrame:
    """Rows: what the CNN was trained on; columns: what it was tested on (accuracy in %), plus
    the reference study's accuracy on the same filter."""
    labels = {"original": "Original", **{k: v["label"] for k, v in report["filters"].items()}}
    frame = pd.DataFrame(report["accuracy"]).T * 100
    frame = frame.loc[report["variants"], report["variants"]]
    frame.index = [labels[v] for v in frame.index]
    frame.columns = [f"tested on {labels[v]}" for v in frame.columns]
    reference = report["reference"]["filtered"]
    frame.insert(0, "reference (trained and tested on it) %",
                 [None if v == "original" else 100 * reference[v] for v in report["variants"]])
    frame.index.name = "trained on"
    return frame.reset_index()


def filter_matrix_figure(report: dict) -> go.Figure:
    """Heat map of accuracy: training variant (rows) by test variant (columns)."""
    labels = {"original": "Original", **{k: v["label"] for k, v in report["filters"].items()}}
    variants = report["variants"]
    z = np.array([[100 * report["accuracy"][r][c] for c in variants] for r in variants])
    fig = go.Figure(go.Heatmap(
        z=z, x=[labels[v] for v in variants], y=[labels[v] for v in variants], zmin=50, zmax=100,
        colorscale="RdBu", text=np.round(z, 1), texttemplate="%{text}%",
        colorbar=dict(title="accuracy %"),
        hovertemplate="trained on %{y}<br>tested on %{x}<br>accuracy %{z:.1f}%<extra></extra>"))
    fig.update_layout(xaxis_title="tested on", yaxis_title="trained on", height=420,
                      yaxis=dict(autorange="reversed"), margin=dict(l=10, r=10, t=30, b=10))
    return fig


def generalization_figure(report: dict, metric: str = "auroc") -> go.Figure:
    """Heat map of the cross-generator matrix: training sources (rows) by test source
    (columns), ``metric`` ("auroc" or "accuracy") in each cell."""
    sources = list(report["sources"])
    rows = report["matrix"]
    names = [" + ".join(r["trained_on"]) for r in rows]
    z = np.array([[r["tests"][s][metric] for s in sources] for r in rows])
    seen = np.array([[s in r["trained_on"] for s in sources] for r in rows])
    text = [[f"{v:.2f}" + ("" if k else " ·unseen") for v, k in zip(zr, kr)]
            for zr, kr in zip(z, seen)]
    fig = go.Figure(go.Heatmap(
        z=z, x=sources, y=names, zmin=0 if metric == "auroc" else 0.5, zmax=1,
        colorscale="RdBu", text=text, texttemplate="%{text}",
        colorbar=dict(title=metric.upper() if metric == "auroc" else "accuracy"),
        hovertemplate="trained on %{y}<br>tested on %{x}<br>%{z:.3f}<extra></extra>"))
    fig.update_layout(xaxis_title="tested on (REAL side: CIFAKE test REAL)",
                      yaxis_title="trained on REAL vs", height=120 + 48 * len(rows),
                      yaxis=dict(autorange="reversed"), margin=dict(l=10, r=10, t=30, b=10))
    return fig


def shipped_sources_figure(report: dict, models: list[str]) -> go.Figure:
    """Grouped bars: each chosen shipped model's AUROC on each fake source."""
    fig = go.Figure()
    for i, source in enumerate(report["sources"]):
        fig.add_bar(name=source, x=models, marker_color=_PALETTE[i % len(_PALETTE)],
                    y=[report["shipped"][m]["tests"][source]["auroc"] for m in models],
                    hovertemplate=f"{source}: AUROC %{{y:.3f}}<extra>%{{x}}</extra>")
    fig.add_hline(y=0.5, line_dash="dot", annotation_text="chance",
                  annotation_position="bottom right")
    fig.update_layout(barmode="group", yaxis=dict(title="AUROC", range=[0, 1]), height=380,
                      legend_title="tested on", margin=dict(l=10, r=10, t=30, b=10))
    return fig


def robustness_figure(report: dict, models: list[str], metric: str = "auroc") -> go.Figure:
    """One panel per perturbation: ``metric`` against severity, a line per model, the clean
    value as a dotted line."""
    kinds = list(report["perturbations"])
    fig = make_subplots(rows=2, cols=3, subplot_titles=[report["perturbations"][k]["label"]
                                                         for k in kinds],
                        vertical_spacing=0.16)
    for m, name in enumerate(models):
        result, colour = report["models"][name], _PALETTE[m % len(_PALETTE)]
        for i, kind in enumerate(kinds):
            info = report["perturbations"][kind]
            x = [str(s) for s in info["severities"]]
            y = [result[kind][s][metric] for s in x]
            fig.add_scatter(x=["clean", *x], y=[result["clean"][metric], *y], mode="lines+markers",
                            name=name, legendgroup=name, showlegend=i == 0,
                            line=dict(color=colour), row=i // 3 + 1, col=i % 3 + 1,
                            hovertemplate=f"{name}<br>%{{x}}: %{{y:.3f}}<extra></extra>")
    for i, kind in enumerate(kinds):
        fig.update_xaxes(title_text=report["perturbations"][kind]["unit"], type="category",
                         row=i // 3 + 1, col=i % 3 + 1)
    fig.update_yaxes(range=[0.4, 1.0] if metric == "auroc" else [0.3, 1.0])
    fig.update_layout(height=640, margin=dict(l=10, r=10, t=60, b=10),
                      legend=dict(orientation="h", y=1.12))
    return fig


def adversarial_figure(report: dict, models: list[str]) -> go.Figure:
    """Accuracy against epsilon (/255) under FGSM and PGD, a line per model."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["FGSM (one step)",
                                                        f"PGD ({report['pgd_steps']} steps)"])
    for m, name in enumerate(models):
        colour = _PALETTE[m % len(_PALETTE)]
        for col, method in enumerate(("fgsm", "pgd"), start=1):
            curve = report["models"][name][method]
            fig.add_scatter(x=[c["epsilon"] for c in curve], y=[c["accuracy"] for c in curve],
                            mode="lines+markers", name=name, legendgroup=name,
                            showlegend=col == 1, line=dict(color=colour), row=1, col=col,
                            hovertemplate=f"{name}<br>epsilon %{{x}}/255: accuracy "
                                          f"%{{y:.3f}}<extra></extra>")
    fig.update_xaxes(title_text="epsilon (/255 per pixel)")
    fig.update_yaxes(title_text="accuracy", range=[0, 1])
    fig.update_layout(height=420, margin=dict(l=10, r=10, t=60, b=10),
                      legend=dict(orientation="h", y=1.18))
    return fig


def quiz_figure(accuracies: list[float], *, baseline: float, player: float | None = None,
                models: dict[str, float] | None = None) -> go.Figure:
    """Histogram of every stored round's accuracy, with the reference human baseline, the
    current player and the models' scores as vertical lines."""
    fig = go.Figure(go.Histogram(x=[100 * a for a in accuracies], xbins=dict(start=0, end=100.1,
                                                                            size=100 / 15),
                                 marker_color="#9e9e9e", name="rounds"))
    lines = [("people in the reference study", baseline, "black", "dash")]
    if player is not None:
        lines.append(("you", player, "#d62728", "solid"))
    for name, value in (models or {}).items():
        lines.append((name, value, "#1f77b4", "dot"))
    for i, (label, value, colour, dash) in enumerate(lines):
        fig.add_vline(x=100 * value, line=dict(color=colour, dash=dash, width=2))
        fig.add_annotation(x=100 * value, y=1 - 0.08 * i, yref="paper", text=label,
                           showarrow=False, xanchor="left", font=dict(color=colour))
    fig.update_layout(xaxis=dict(title="accuracy %", range=[0, 101]),
                      yaxis_title="rounds", height=360, margin=dict(l=10, r=10, t=20, b=10),
                      showlegend=False)
    return fig
