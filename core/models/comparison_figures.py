"""Figures comparing trained models (plotly, from the committed reports): ROC and
precision-recall curves, confusion matrices, reliability diagrams, per-class accuracy, training
curves, the PCA sweep and the agreement heat map."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = [
    "agreement_figure",
    "calibration_change_figure",
    "calibration_figure",
    "confusion_figure",
    "confusion_matrix_figure",
    "curves_figure",
    "history_figure",
    "pca_sweep_figure",
    "per_class_figure",
]

_LAYOUT = dict(margin=dict(l=10, r=10, t=90, b=10),
               legend=dict(orientation="h", yanchor="bottom", y=1.12, xanchor="right", x=1))


def curves_figure(reports: list[dict], kind: str, split: str = "test") -> go.Figure:
    """ROC (``kind="roc"``: TPR vs FPR) or precision-recall (``"pr"``) curves overlaid."""
    fig = go.Figure()
    key, auc_key = ("roc_curve", "roc_auc") if kind == "roc" else ("pr_curve", "pr_auc")
    for r in reports:
        curve = r["metrics"][split][key]
        fig.add_trace(go.Scatter(x=curve["x"], y=curve["y"], mode="lines",
                                 name=f"{r['name']} ({r['metrics'][split][auc_key]:.4f})"))
    if kind == "roc":
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance",
                                 line=dict(dash="dot", color="grey")))
        fig.update_xaxes(title_text="false positive rate (REAL called FAKE)")
        fig.update_yaxes(title_text="true positive rate (FAKE caught)")
    else:
        fig.update_xaxes(title_text="recall (FAKE caught)")
        fig.update_yaxes(title_text="precision (called FAKE that are FAKE)")
    return fig.update_layout(height=420, title="ROC" if kind == "roc" else "Precision-recall",
                             margin=dict(l=10, r=10, t=40, b=10),
                             legend=dict(x=0.99, xanchor="right", y=0.01, yanchor="bottom"))


def confusion_figure(report: dict, split: str = "test", at: str = "at_threshold") -> go.Figure:
    """Confusion matrix heat map of a model's report, with counts and row percentages."""
    return confusion_matrix_figure(report["metrics"][split][at]["confusion"], report["name"])


def confusion_matrix_figure(confusion, title: str, *, height: int = 300) -> go.Figure:
    """Confusion matrix ``[[TN, FP], [FN, TP]]`` heat map with counts and row percentages."""
    cm = np.asarray(confusion)
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    text = [[f"{cm[i, j]:,}<br>{share[i, j]:.1%}" for j in range(2)] for i in range(2)]
    fig = go.Figure(go.Heatmap(z=share, x=["called REAL", "called FAKE"], y=["REAL", "FAKE"],
                               text=text, texttemplate="%{text}", colorscale="Blues", zmin=0,
                               zmax=1, showscale=False))
    fig.update_yaxes(autorange="reversed", title_text="true label")
    return fig.update_layout(height=height, title=title, margin=dict(l=10, r=10, t=40, b=10))


def calibration_figure(reports: list[dict], split: str = "test") -> go.Figure:
    """Reliability diagram: observed FAKE share against mean predicted P(FAKE) per bin."""
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect",
                               line=dict(dash="dot", color="grey")))
    for r in reports:
        rel = r["metrics"][split]["reliability"]
        fig.add_trace(go.Scatter(x=rel["mean_predicted"], y=rel["observed_fake"],
                                 mode="lines+markers",
                                 name=f"{r['name']} (ECE {r['metrics'][split]['ece']:.3f})"))
    fig.update_xaxes(title_text="mean predicted P(FAKE)", range=[0, 1])
    fig.update_yaxes(title_text="observed share of FAKE", range=[0, 1])
    return fig.update_layout(height=420, title="Reliability", margin=dict(l=10, r=10, t=40, b=10))


def calibration_change_figure(report: dict) -> go.Figure:
    """Reliability on the test set of one model before and after its calibration."""
    test = report["metrics"]["test"]
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect",
                               line=dict(dash="dot", color="grey")))
    for label, part in (("before", test.get("uncalibrated")), ("after", test)):
        if part:
            rel = part["reliability"]
            fig.add_trace(go.Scatter(x=rel["mean_predicted"], y=rel["observed_fake"],
                                     mode="lines+markers", name=f"{label} (ECE {part['ece']:.3f})"))
    fig.update_xaxes(title_text="mean predicted P(FAKE)", range=[0, 1])
    fig.update_yaxes(title_text="observed share of FAKE", range=[0, 1])
    return fig.update_layout(height=380, **_LAYOUT)


def per_class_figure(reports: list[dict], split: str = "test") -> go.Figure:
    """Accuracy per CIFAR class, one bar group per class."""
    fig = go.Figure()
    for r in reports:
        per_class = r["metrics"][split]["per_class_accuracy"]
        fig.add_trace(go.Bar(x=list(per_class), y=[100 * v for v in per_class.values()],
                             name=r["name"]))
    fig.update_yaxes(title_text="accuracy %")
    return fig.update_layout(height=380, barmode="group", **_LAYOUT)


def history_figure(report: dict) -> go.Figure | None:
    """Loss and accuracy per epoch (train and validation); None for models without epochs."""
    history = report.get("training", {}).get("history", {})
    if "loss" not in history:
        return None
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    epochs = np.arange(1, len(history["loss"]) + 1)
    for col, metric in enumerate(("loss", "accuracy"), start=1):
        for prefix, dash in (("", "solid"), ("val_", "dash")):
            if prefix + metric in history:
                fig.add_trace(go.Scatter(x=epochs, y=history[prefix + metric], mode="lines+markers",
                                         name=("validation " if prefix else "train ") + metric,
                                         line=dict(dash=dash)), row=1, col=col)
    best = history.get("best_epoch")
    if best:
        for col in (1, 2):
            fig.add_vline(x=best, line=dict(color="grey", dash="dot"), row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    return fig.update_layout(height=330, title=f"{report['name']}: training (dotted line: best "
                             "epoch, restored)", **_LAYOUT)


def pca_sweep_figure(sweep: dict) -> go.Figure:
    """Test accuracy against the number of principal components kept."""
    rows = sweep["rows"]
    fig = go.Figure(go.Scatter(x=[r["components"] for r in rows],
                               y=[100 * r["test_accuracy"] for r in rows], mode="lines+markers",
                               name="ours"))
    if "reference" in sweep:
        ref = sweep["reference"]
        fig.add_trace(go.Scatter(x=ref["components"], y=[100 * a for a in ref["test_accuracy"]],
                                 mode="lines+markers", name="reference study",
                                 line=dict(dash="dash")))
    fig.update_xaxes(type="log", title_text="principal components kept")
    fig.update_yaxes(title_text="test accuracy %")
    return fig.update_layout(height=360, title=sweep.get("title", "PCA sweep"), **_LAYOUT)


def agreement_figure(matrix: pd.DataFrame) -> go.Figure:
    """Heat map of ``agreement_matrix``: the share of test images two models give one verdict."""
    fig = go.Figure(go.Heatmap(z=100 * matrix.values, x=matrix.columns, y=matrix.index,
                               colorscale="Viridis", texttemplate="%{z:.1f}",
                               hovertemplate="%{y} vs %{x}: %{z:.2f}% same verdict<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return fig.update_layout(height=120 + 40 * len(matrix), margin=dict(l=10, r=10, t=10, b=10))
