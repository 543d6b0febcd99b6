"""Figures of a CNN's insides: the network diagram (Graphviz DOT), activation and filter grids
whose tiles can be clicked, one map with its values, feature bars, what moved the logit, one
convolution step, and the channels that separate REAL from FAKE."""

from __future__ import annotations

import base64

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.data.imageio import png_bytes
from core.detect.inside import Network
from core.detect.inside_conv import ConvStep
from core.detect.inside_images import GAP, Grid

__all__ = ["bars_figure", "block_separation_figure", "channel_histogram", "contributions_figure",
           "conv_arithmetic_figure", "conv_input_figure", "conv_output_figure", "data_uri",
           "grid_figure", "map_figure", "means_figure", "network_dot", "separation_figure"]

LEANS = {"FAKE": "#d62728", "REAL": "#1f77b4"}
KIND_COLOURS = {"prep": "#eeeeee", "conv": "#dbe9f6", "res": "#dcefd9", "pool": "#fde8cf",
                "gap": "#e8def3", "flatten": "#eeeeee", "dense": "#e8def3", "output": "#f8d7d7",
                "other": "#eeeeee"}
_BARE = dict(visible=False, showgrid=False, zeroline=False)


def data_uri(image: np.ndarray) -> str:
    """An RGB image as a PNG ``data:`` URI (for figures and table cells)."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode()


def network_dot(network: Network) -> str:
    """The network as a top-to-bottom Graphviz diagram: one box per block with its output
    shape; a residual block as its main path and a sum (+) that its skip connection (dashed)
    also feeds."""
    lines = ["digraph network {", "  rankdir=TB; nodesep=0.3; ranksep=0.18;",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=12, '
             'margin="0.15,0.04", height=0.4];', '  edge [arrowsize=0.6, color="#555555"];',
             f'  input [label="Image {"×".join(map(str, network.input_shape))}", '
             'fillcolor="#ffffff"];']
    previous = "input"
    for block in network.blocks:
        label = f"{block.title}\\n{'×'.join(map(str, block.output_shape))}"
        fill = KIND_COLOURS.get(block.kind, "#eeeeee")
        lines += [f'  {block.id} [label="{label}", fillcolor="{fill}"];',
                  f"  {previous} -> {block.id};"]
        previous = block.id
        if block.kind == "res":
            skip = "skip" if block.skip == "identity" else "skip (1x1 conv)"
            lines += [f'  {block.id}_sum [label="+", shape=circle, fixedsize=true, width=0.3, '
                      f'fontsize=14, fillcolor="{fill}"];',
                      f"  {block.id} -> {block.id}_sum;",
                      f'  {_input_of(network, block)} -> {block.id}_sum [style=dashed, '
                      f'color="#2e7d32", fontcolor="#2e7d32", fontsize=10, label=" {skip}"];']
            previous = f"{block.id}_sum"
    return "\n".join([*lines, "}"])


def _input_of(network: Network, block) -> str:
    """The diagram node whose output a block reads."""
    index = network.blocks.index(block)
    if index == 0:
        return "input"
    before = network.blocks[index - 1]
    return f"{before.id}_sum" if before.kind == "res" else before.id


def grid_figure(grid: Grid, values: np.ndarray | None = None, *, what: str = "channel",
                selected: int | None = None, colour_title: str = "activation") -> go.Figure:
    """A ``Grid`` shown at its own pixel size, each tile clickable (its item is the point's
    ``customdata``) and hoverable; a colour bar when the grid shares one scale."""
    height, width = grid.image.shape[:2]
    fig = go.Figure(go.Image(source=data_uri(grid.image), hoverinfo="skip"))
    xs, ys = zip(*(grid.centre(i) for i in range(len(grid.items))))
    shown = values if values is not None else np.zeros(len(grid.items))
    hover = f"{what} %{{customdata}}" + (": mean %{marker.color:.3f}" if values is not None
                                         else "")
    marker = dict(symbol="square", size=max(8, grid.tile * 0.9), opacity=0.01, color=shown)
    if grid.low is not None and values is not None:
        marker.update(colorscale="Viridis", cmin=grid.low, cmax=grid.high, showscale=True,
                      colorbar=dict(title=dict(text=colour_title, side="top"), thickness=10,
                                    len=0.5, orientation="h", x=0, xanchor="left", y=0,
                                    yanchor="top", ypad=4))
    fig.add_scatter(x=xs, y=ys, mode="markers", marker=marker, customdata=grid.items,
                    hovertemplate=hover + "<extra></extra>", showlegend=False)
    if selected is not None and selected in set(grid.items.tolist()):
        x, y = grid.centre(int(np.flatnonzero(grid.items == selected)[0]))
        half = grid.tile / 2 + GAP / 2
        fig.add_shape(type="rect", x0=x - half, x1=x + half, y0=y - half, y1=y + half,
                      line=dict(color="#ff1744", width=3))
    fig.update_layout(width=width + 10, height=height + (75 if marker.get("showscale") else 10),
                      margin=dict(l=5, r=5, t=5, b=70 if marker.get("showscale") else 5),
                      dragmode=False, clickmode="event+select",
                      xaxis={**_BARE, "range": [-0.5, width - 0.5], "autorange": False},
                      yaxis={**_BARE, "range": [height - 0.5, -0.5], "autorange": False,
                             "scaleanchor": "x"})
    return fig


def map_figure(values: np.ndarray, *, low: float | None = None, high: float | None = None,
               side: int = 300, colour_title: str = "activation") -> go.Figure:
    """One activation map with each value on hover (row, column), viridis."""
    fig = go.Figure(go.Heatmap(
        z=values, colorscale="Viridis", zmin=low, zmax=high,
        colorbar=dict(title=colour_title, thickness=12),
        hovertemplate="row %{y}, column %{x}: %{z:.4f}<extra></extra>"))
    fig.update_layout(width=side + 90, height=side + 20, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis={**_BARE, "constrain": "domain"},
                      yaxis={**_BARE, "autorange": "reversed", "scaleanchor": "x"})
    return fig


def bars_figure(values: np.ndarray, *, selected: int | None = None, what: str = "feature",
                colour: str = "#5c6bc0") -> go.Figure:
    """A vector of features (a pooled or dense layer's output) as bars, one per feature, in
    order; each bar clickable (``customdata``); the selected one highlighted."""
    colours = [colour] * len(values)
    if selected is not None and 0 <= selected < len(values):
        colours[selected] = "#ff1744"
    fig = go.Figure(go.Bar(x=np.arange(len(values)), y=values, marker_color=colours,
                           customdata=np.arange(len(values)),
                           hovertemplate=f"{what} %{{x}}: %{{y:.4f}}<extra></extra>"))
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10), bargap=0.1,
                      xaxis=dict(title=what), yaxis=dict(title="value"), clickmode="event+select")
    return fig


def contributions_figure(features: np.ndarray, weights: np.ndarray, *, top: int = 12
                         ) -> go.Figure:
    """The features whose weight × value moved the final logit most, towards FAKE (red,
    positive) or REAL (blue, negative)."""
    contributions = features * weights
    order = np.argsort(-np.abs(contributions), kind="stable")[:top][::-1]
    fig = go.Figure(go.Bar(
        x=contributions[order], y=[f"feature {i}" for i in order], orientation="h",
        marker_color=[LEANS["FAKE"] if c >= 0 else LEANS["REAL"] for c in contributions[order]],
        customdata=np.stack([features[order], weights[order]], axis=1),
        hovertemplate="%{y}: value %{customdata[0]:.3f} × weight %{customdata[1]:.3f} = "
                      "%{x:.3f}<extra></extra>"))
    fig.update_layout(height=60 + 22 * len(order), margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(title="value × weight (→ FAKE, ← REAL)", zeroline=True))
    return fig


def conv_input_figure(image: np.ndarray, step: ConvStep, kernel: tuple[int, int],
                      pad: int, side: int = 300) -> go.Figure:
    """The convolution's input image with the filter's window outlined (the grey margin is
    the zero padding)."""
    height, width = image.shape[:2]
    fig = go.Figure(go.Image(z=image, hovertemplate="row %{y}, column %{x}<extra></extra>"))
    kh, kw = kernel
    fig.add_shape(type="rect", x0=step.left - 0.5, x1=step.left + kw - 0.5,
                  y0=step.top - 0.5, y1=step.top + kh - 0.5, line=dict(color="#ff1744", width=3))
    fig.update_layout(width=side, height=side, margin=dict(l=0, r=0, t=0, b=0),
                      plot_bgcolor="#bdbdbd",
                      xaxis={**_BARE, "range": [-pad - 0.5, width + pad - 0.5]},
                      yaxis={**_BARE, "range": [height + pad - 0.5, -pad - 0.5],
                             "scaleanchor": "x"})
    return fig


def conv_output_figure(values: np.ndarray, done: int, *, side: int = 300) -> go.Figure:
    """The filter's output map filled in up to position ``done`` (row by row), on the colour
    scale of the whole map, the current position outlined."""
    shown = values.astype(np.float64).ravel().copy()
    shown[done + 1:] = np.nan
    row, col = divmod(done, values.shape[1])
    fig = go.Figure(go.Heatmap(
        z=shown.reshape(values.shape), colorscale="Viridis", zmin=float(values.min()),
        zmax=float(values.max()), colorbar=dict(title="output", thickness=12),
        hovertemplate="row %{y}, column %{x}: %{z:.4f}<extra></extra>"))
    fig.add_shape(type="rect", x0=col - 0.5, x1=col + 0.5, y0=row - 0.5, y1=row + 0.5,
                  line=dict(color="#ff1744", width=3))
    fig.update_layout(width=side + 90, height=side, margin=dict(l=0, r=0, t=0, b=0),
                      plot_bgcolor="#f5f5f5", xaxis={**_BARE, "constrain": "domain"},
                      yaxis={**_BARE, "autorange": "reversed", "scaleanchor": "x"})
    return fig


def conv_arithmetic_figure(step: ConvStep, channel_names: list[str] | None = None,
                           max_channels: int = 3) -> go.Figure:
    """Per input channel (rows): the window's input values, the filter's weights and their
    products (columns), each number written in its cell."""
    n = min(step.window.shape[-1], max_channels)
    names = channel_names or [f"input channel {c}" for c in range(n)]
    fig = make_subplots(rows=n, cols=3, horizontal_spacing=0.06, vertical_spacing=0.06,
                        column_titles=["input window", "× weights", "= products"],
                        row_titles=names[:n])
    for c in range(n):
        for col, (values, scale, mid) in enumerate([(step.window[..., c], "Greys", None),
                                                    (step.weights[..., c], "RdBu_r", 0.0),
                                                    (step.products[..., c], "RdBu_r", 0.0)]):
            fig.add_trace(go.Heatmap(z=values, colorscale=scale, zmid=mid, showscale=False,
                                     reversescale=scale == "Greys", texttemplate="%{z:.3f}",
                                     textfont=dict(size=12), hoverinfo="skip"),
                          row=c + 1, col=col + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed")
    fig.update_layout(height=110 + 130 * n, margin=dict(l=10, r=40, t=40, b=10))
    return fig


def separation_figure(auroc: np.ndarray, mean_real: np.ndarray, mean_fake: np.ndarray,
                      ranked: np.ndarray, *, top: int = 20, selected: int | None = None
                      ) -> go.Figure:
    """The ``top`` channels that separate REAL from FAKE best: bars of each one's AUROC from
    0.5 (chance), red when it fires more on FAKE, blue on REAL; each bar clickable."""
    chosen = ranked[:top][::-1]
    colours = [LEANS["FAKE"] if auroc[c] >= 0.5 else LEANS["REAL"] for c in chosen]
    fig = go.Figure(go.Bar(
        y=[f"channel {c}" for c in chosen], x=auroc[chosen] - 0.5, base=0.5, orientation="h",
        marker=dict(color=colours, line=dict(
            color=["#000000" if c == selected else "rgba(0,0,0,0)" for c in chosen], width=2)),
        customdata=np.stack([chosen, mean_real[chosen], mean_fake[chosen]], axis=1),
        hovertemplate="channel %{customdata[0]}: AUROC %{x:.3f}<br>mean on REAL "
                      "%{customdata[1]:.3f}, on FAKE %{customdata[2]:.3f}<extra></extra>"))
    fig.add_vline(x=0.5, line=dict(color="black", width=1))
    fig.update_layout(height=80 + 22 * len(chosen), margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(range=[0, 1], title="AUROC of the channel alone "
                                 "(← fires more on REAL · fires more on FAKE →)"),
                      clickmode="event+select")
    return fig


def means_figure(mean_real: np.ndarray, mean_fake: np.ndarray, auroc: np.ndarray,
                 selected: int | None = None) -> go.Figure:
    """Every channel's mean activation on REAL (x) against FAKE (y), coloured by its AUROC;
    channels off the diagonal respond differently to the two; each point clickable."""
    channels = np.arange(len(auroc))
    fig = go.Figure(go.Scatter(
        x=mean_real, y=mean_fake, mode="markers", customdata=channels,
        marker=dict(color=auroc, colorscale="RdBu_r", cmin=0, cmax=1, size=9,
                    line=dict(color=["#000000" if c == selected else "rgba(0,0,0,0)"
                                     for c in channels], width=2),
                    colorbar=dict(title="AUROC", thickness=12)),
        hovertemplate="channel %{customdata}: REAL %{x:.3f}, FAKE %{y:.3f}<extra></extra>"))
    top = float(max(mean_real.max(), mean_fake.max()))
    bottom = float(min(mean_real.min(), mean_fake.min(), 0))
    fig.add_shape(type="line", x0=bottom, y0=bottom, x1=top, y1=top,
                  line=dict(color="#9e9e9e", dash="dot"))
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(title="mean activation on REAL images"),
                      yaxis=dict(title="mean activation on FAKE images"),
                      clickmode="event+select")
    return fig


def channel_histogram(values: np.ndarray, labels: np.ndarray) -> go.Figure:
    """How one channel's mean activation is spread over REAL and over FAKE images."""
    fig = go.Figure()
    edges = np.histogram_bin_edges(values, bins=40)
    for label, name in ((0, "REAL"), (1, "FAKE")):
        counts, _ = np.histogram(values[labels == label], bins=edges)
        fig.add_bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, name=name, opacity=0.65,
                    marker_color=LEANS[name], width=float(edges[1] - edges[0]),
                    hovertemplate=f"{name}: %{{y}} images near %{{x:.3f}}<extra></extra>")
    fig.update_layout(barmode="overlay", height=240, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(title="mean activation of the channel"),
                      yaxis=dict(title="images"), legend=dict(orientation="h", y=1.12))
    return fig


def block_separation_figure(titles: list[str], best: list[float]) -> go.Figure:
    """For each block, input side first, the AUROC of its most separating channel (shown as
    distance from chance: 0.5 to 1)."""
    fig = go.Figure(go.Bar(x=titles, y=best, marker_color="#7e57c2", customdata=titles,
                           hovertemplate="%{x}: best channel %{y:.3f}<extra></extra>"))
    fig.update_layout(height=280, margin=dict(l=10, r=10, t=10, b=10), clickmode="event+select",
                      yaxis=dict(range=[0.5, 1], title="best single channel "
                                 "(max of AUROC, 1 − AUROC)"))
    return fig
