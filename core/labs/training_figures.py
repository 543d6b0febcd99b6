"""Figures of the Training lab (plotly): a run's live loss and accuracy, the CNN sweeps beside the
reference study's figures, and the learning curves."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = ["NAMES", "architecture_figure", "curves_figure", "progress_figure",
           "regularisation_figure"]

_LAYOUT = dict(margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.25))
NAMES = {"reference_cnn": "reference CNN (355,649 parameters)",
          "flagship": "flagship architecture (1.57 M parameters)"}


def progress_figure(events: list[dict]) -> go.Figure:
    """Loss and accuracy against epochs (fractional) for training (running mean of the
    epoch so far) and validation (the latest check)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    if events:
        x = [e["step"] / e["steps_per_epoch"] for e in events]
        for col, metric in enumerate(("loss", "accuracy"), start=1):
            fig.add_trace(go.Scatter(x=x, y=[e[metric] for e in events], mode="lines",
                                     name=f"training {metric}", line=dict(color="#1f77b4")),
                          row=1, col=col)
            val = [(xi, e[f"val_{metric}"]) for xi, e in zip(x, events)
                   if e[f"val_{metric}"] is not None]
            if val:
                fig.add_trace(go.Scatter(x=[v[0] for v in val], y=[v[1] for v in val],
                                         mode="lines", name=f"validation {metric}",
                                         line=dict(color="#d62728", dash="dash", shape="hv")),
                              row=1, col=col)
    fig.update_xaxes(title_text="epochs")
    return fig.update_layout(height=320, **_LAYOUT)


def _reference_line(fig: go.Figure, y: float, text: str) -> None:
    fig.add_hline(y=100 * y, line=dict(color="grey", dash="dot"), annotation_text=text,
                  annotation_position="top left")


def architecture_figure(section: dict) -> go.Figure:
    """Test accuracy against conv blocks, one line per dense head, with the reference study's
    best (> 89 %) and worst (< 81 %) basic CNN."""
    fig = go.Figure()
    heads: dict[str, list[dict]] = {}
    for point in section["points"]["architecture"]:
        k = point["knobs"]
        head = (f"{k['dense_layers']} x {k['neurons']} dense" if k["dense_layers"]
                else "no dense layer")
        heads.setdefault(head, []).append(point)
    for head, rows in sorted(heads.items()):
        rows = sorted(rows, key=lambda p: p["knobs"]["conv_blocks"])
        fig.add_trace(go.Scatter(
            x=[p["knobs"]["conv_blocks"] for p in rows], y=[100 * p["test_accuracy"] for p in rows],
            mode="lines+markers", name=head,
            customdata=[[p["label"], p["params"], 100 * p["val_accuracy"]] for p in rows],
            hovertemplate="%{customdata[0]}<br>%{customdata[1]:,} parameters<br>test %{y:.1f} %"
                          "<br>validation %{customdata[2]:.1f} %<extra></extra>"))
    ref = section["reference"]["architecture"]
    _reference_line(fig, ref["best_above"], "reference study: best basic CNN > 89 %")
    _reference_line(fig, ref["worst_below"], "reference study: worst < 81 %")
    fig.update_xaxes(title_text="convolutional blocks", dtick=1)
    fig.update_yaxes(title_text="test accuracy %")
    return fig.update_layout(height=400, title="Conv blocks x dense layers x neurons", **_LAYOUT)


def regularisation_figure(section: dict, experiment: str) -> go.Figure:
    """Validation and test accuracy (mean and seed spread) against L2 strength or dropout on
    the best architecture, with the reference study's finding."""
    rows = sorted(section["points"][experiment], key=lambda p: p["knobs"][experiment])
    x = [f"{p['knobs'][experiment]:g}" for p in rows]
    fig = go.Figure()
    for metric, name, dash in (("test_accuracy", "test", "solid"),
                               ("val_accuracy", "validation", "dash")):
        fig.add_trace(go.Scatter(
            x=x, y=[100 * p[metric] for p in rows], mode="lines+markers", name=name,
            line=dict(dash=dash),
            error_y=dict(type="data", array=[100 * p[f"{metric}_std"] for p in rows]),
            hovertemplate="%{y:.2f} %<extra>" + name + "</extra>"))
    if experiment == "dropout":
        _reference_line(fig, 0.89, "reference study: dropout 0.2 stayed above 89 %")
    title = {"l2": "L2 strength on the best architecture",
             "dropout": "Dropout on the best architecture"}[experiment]
    seeds = max((p["seeds"] for p in rows), default=0)
    fig.update_xaxes(title_text="L2 strength" if experiment == "l2" else "dropout rate",
                     type="category")
    fig.update_yaxes(title_text="accuracy %")
    return fig.update_layout(height=380, title=f"{title} (mean ± spread over {seeds} seeds)",
                             **_LAYOUT)


def curves_figure(section: dict) -> go.Figure:
    """Test accuracy against training images (log scale): our measured points per
    architecture (each seeing the same number of training images), and the shipped models
    trained on the whole training split."""
    fig = go.Figure()
    colours = {"reference_cnn": "#1f77b4", "flagship": "#d62728"}
    models = sorted({r["model"] for r in section["runs"]}, key=list(colours).index)
    for model in models:
        rows = sorted((r for r in section["runs"] if r["model"] == model),
                      key=lambda r: r["n_train"])
        fig.add_trace(go.Scatter(
            x=[r["n_train"] for r in rows], y=[100 * r["test_accuracy"] for r in rows],
            mode="lines+markers", name=f"{NAMES.get(model, model)}, measured here"
            + (f" ({rows[0]['budget']:,} images per point, one epoch at least)"
               if "budget" in rows[0] else ""),
            line=dict(color=colours.get(model)),
            customdata=[[r["fraction"] * 100, r["epochs_run"], r["epochs"], r["seconds"]]
                        for r in rows],
            hovertemplate="%{x:,} images (%{customdata[0]:g} % of train), %{customdata[1]} of "
                          "%{customdata[2]} epochs<br>test %{y:.1f} %<br>%{customdata[3]:.0f} s"
                          "<extra></extra>"))
    for row in section.get("shipped", []):
        fig.add_trace(go.Scatter(
            x=[row["n_train"]], y=[100 * row["test_accuracy"]], mode="markers",
            marker=dict(symbol="star", size=14, color=colours.get(row["model"])),
            name=f"shipped {row['model']} (full train split, its own recipe, "
                 f"{row['epochs']} epochs)"))
    fig.update_xaxes(type="log", title_text="training images (log scale)")
    fig.update_yaxes(title_text="leak-free test accuracy %")
    return fig.update_layout(height=440, title="Learning curves: more epochs on less data, the "
                                               "same training images per point", **_LAYOUT)
