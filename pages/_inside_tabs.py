"""The tabs of Inside the CNN that look at one image: the network, the activation maps and the
filters; and what every tab shares (the view's keys, the block and channel pickers, clicks on
figures)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import streamlit as st

from core.data.imageio import enlarge
from core.detect import inside_figures as figures
from core.detect.explain import conv_layers, overlay
from core.detect.inside import Activations, Block, Inside, layer_label, strongest_channels
from core.detect.inside_conv import filters_of
from core.detect.inside_images import colour, filter_tiles, grid, kernel_grid, map_grid
from core.models.artifacts import Predictor
from pages import _url
from pages._widgets import escape_markdown

MAP_KINDS = ("prep", "conv", "res", "pool", "gap", "dense")  # blocks with channels to look at
SIDE = 128  # display size (about) of one map beside the input


URL_PARAMS = ("model", "source", "image", "tab", "layer", "channel")  # kept in the page's URL


@dataclass(frozen=True)
class Keys:
    """Widget keys of one instance of the view: on the page, the URL parameters' bare names
    (``URL_PARAMS``); otherwise, and for every other widget, names with the view's prefix."""

    prefix: str
    url: bool

    def __call__(self, name: str) -> str:
        return name if self.url and name in URL_PARAMS else f"{self.prefix}_{name}"

    def widget(self, make: Callable, *args, name: str, **kwargs):
        """``make(*args, **kwargs)`` keyed for this view: on the page, a URL parameter's widget
        is bound to the URL (a refused link value named in a notice: ``_url.bound``); otherwise
        its key carries the view's prefix."""
        if self.url and name in URL_PARAMS:
            return _url.bound(make, *args, key=name, **kwargs)
        return make(*args, key=self(name), **kwargs)


@dataclass(frozen=True)
class Opened:
    """What the tabs look at: the model, its engine, the input and its activations."""

    name: str
    predictor: Predictor
    inside: Inside
    x: np.ndarray
    acts: Activations
    threshold: float
    keys: Keys


# ---------------------------------------------------------------- shared

def pick_block(opened: Opened, layer: str | None) -> Block:
    """The block select box, by block title (kept in the URL as ``layer``, e.g. "Residual
    block 2"); changing it resets the channel. ``layer`` is a block's id or title."""
    keys = opened.keys
    blocks = {b.title: b for b in opened.inside.network.blocks if b.kind in MAP_KINDS}
    titles = list(blocks)
    by_id = {b.id: title for title, b in blocks.items()}
    default = by_id.get(layer, layer) if by_id.get(layer, layer) in blocks else next(
        (t for t, b in blocks.items() if b.kind in ("conv", "res")), titles[0])
    chosen = keys.widget(
        st.selectbox, "Block", titles, index=titles.index(default), name="layer",
        on_change=_forget, args=(keys("channel"),),
        help="Each block's output: " + "; ".join(
            f"{t}: {'×'.join(map(str, b.output_shape))}" for t, b in blocks.items()))
    return blocks[chosen]


def _forget(key: str) -> None:
    st.session_state[key] = None


def pick_channel(opened: Opened, block: Block, channel: int | None) -> int:
    """The channel box (kept in the URL as ``channel``; empty: the channel strongest on this
    image)."""
    keys = opened.keys
    key, n = keys("channel"), block.channels
    if isinstance(st.session_state.get(key), (int, float)) and st.session_state[key] >= n:
        st.session_state[key] = None
    what = "Channel" if block.spatial else "Feature"
    value = keys.widget(
        st.number_input, f"{what} (0–{n - 1})", 0, n - 1,
        value=channel if channel is not None and 0 <= channel < n else None, name="channel",
        placeholder=f"strongest: {strongest(opened, block.id)}",
        help="Empty: the one with the highest mean activation on this image.")
    return strongest(opened, block.id) if value is None else int(value)


def conv_name(opened: Opened, layer: str) -> str:
    """A convolution layer as a reader knows it: its block, its shape and its Keras name."""
    block = next(b for b in opened.inside.network.blocks if layer in b.layers)
    return f"{block.title}: {layer_label(opened.inside.model.get_layer(layer))} ({layer})"


def strongest(opened: Opened, block: str) -> int:
    """The channel of ``block`` with the highest mean activation on the input."""
    return int(strongest_channels(opened.acts.maps[block][0], 1)[0])


def on_click(chart_key: str, target: str, also: dict | None = None, cast=int) -> None:
    """A clicked tile, bar or point of a figure (its ``customdata``, or its first element)
    goes into the widget ``target``; ``also`` sets other widgets (another tab, a layer)."""
    state = st.session_state.get(chart_key)
    points = state.selection.points if state and state.selection else []
    if points:
        data = points[0].get("customdata")
        if isinstance(data, dict):  # an array's items arrive keyed "0", "1", ...
            data = [data[k] for k in sorted(data, key=int)]
        st.session_state[target] = cast(data[0] if isinstance(data, list) else data)
        st.session_state.update(also or {})


def clickable(figure, chart_key: str, opened: Opened, *, target: str = "channel",
              also: dict | None = None, cast=int, width="content") -> None:
    """A figure whose clicked element sets the widget ``target`` (see ``on_click``)."""
    keys = opened.keys
    st.plotly_chart(figure, key=keys(chart_key), selection_mode="points", width=width,
                    on_select=partial(on_click, keys(chart_key), keys(target), also, cast),
                    config={"displayModeBar": False})


# ---------------------------------------------------------------- the network

@st.cache_data(show_spinner=False, max_entries=32)
def _thumbnails(x: np.ndarray, sha: str, _opened: Opened) -> dict[str, np.ndarray]:
    """Each spatial block's six strongest maps on the input, side by side."""
    out = {}
    for block in _opened.inside.network.blocks:
        values = _opened.acts.maps[block.id][0]
        if block.spatial:
            out[block.id] = map_grid(values, strongest_channels(values, 6), columns=6,
                                     tile=32).image
    return out


def network_tab(opened: Opened, layer=None, channel=None) -> None:
    network = opened.inside.network
    st.markdown("The network from the image (top) to P(FAKE) (bottom), one box per block. A "
                "**residual block** adds its input back to what its convolutions computed "
                "(the dashed **skip connection**), so it only has to learn a correction.")
    diagram, rows = st.columns([1, 3])
    diagram.graphviz_chart(figures.network_dot(network), width="content")
    thumbs = _thumbnails(opened.x, opened.predictor.sha256, opened)
    with rows:
        for block in network.blocks:
            what, numbers, maps = st.columns([5, 2, 3], vertical_alignment="center")
            skip = f"; skip connection: {block.skip}" if block.skip else ""
            what.markdown(f"**{block.title}** · {'×'.join(map(str, block.output_shape))}  \n"
                          f":small[{escape_markdown(block.summary + skip)}]")
            macs = "–" if block.macs is None else (
                f"{block.macs / 1e6:,.1f} M" if block.macs >= 1e5 else f"{block.macs:,}")
            numbers.markdown(f":small[{block.params:,} parameters  \n{macs} multiply-adds]")
            if block.id in thumbs:
                maps.image(thumbs[block.id])
        st.caption(f"{network.params:,} parameters; {network.macs / 1e6:,.1f} million "
                   "multiply-adds for one image. The pictures are each block's six most "
                   "active channels on this image (see Activation maps).")
    _decision(opened)


def _decision(opened: Opened) -> None:
    """How the last layer turns the features into the logit and P(FAKE)."""
    blocks = opened.inside.network.blocks
    if len(blocks) < 2 or blocks[-1].kind != "output":
        return
    final = opened.inside.model.get_layer(blocks[-1].output_layer)
    weights, bias = (np.asarray(w) for w in final.get_weights()[:2])
    features = opened.acts.maps[blocks[-2].id][0].reshape(-1)
    st.subheader("How the last layer decides")
    acts = opened.acts
    st.markdown(
        f"The {features.size:,} numbers of **{blocks[-2].title}** are each multiplied by a "
        f"learned weight and added up, with a bias of {float(bias[0]):+.3f}: the **logit** "
        f"{float(acts.logits[0]):+.3f}. The sigmoid turns it into P(FAKE) "
        f"{float(acts.p_raw[0]):.3f}; the calibration fitted on validation images makes it "
        f"{float(acts.p_fake[0]):.3f}. The bars are the products that moved the logit most.")
    st.plotly_chart(figures.contributions_figure(features, weights[:, 0]),
                    key=opened.keys("contributions"), config={"displayModeBar": False})


# ---------------------------------------------------------------- activation maps

def maps_tab(opened: Opened, layer: str | None, channel: int | None) -> None:
    keys = opened.keys
    st.markdown("Each block turns its input into a stack of **maps**, one per channel: a "
                "channel is one learned pattern, bright where the pattern is present. Click a "
                "map to see it beside the input.")
    left, middle, right = st.columns([3, 2, 2], vertical_alignment="bottom")
    with left:
        block = pick_block(opened, layer)
    with middle:
        chosen = pick_channel(opened, block, channel)
    values = opened.acts.maps[block.id][0]
    if not block.spatial:
        _feature_bars(opened, block, values, chosen)
        return
    shared = right.segmented_control(
        "Colour scale", ["block", "map"], default="block", key=keys("scale"),
        format_func={"block": "one scale", "map": "per map"}.get,
        help="One scale for the whole block compares channels' strength; a scale per map "
             "shows each map's shape.") != "map"
    order = strongest_channels(values)
    tiles = map_grid(values, order, shared=shared)
    grid_column, detail = st.columns([2, 1])
    with grid_column:
        clickable(figures.grid_figure(tiles, values.mean(axis=(0, 1))[order], selected=chosen),
                  "grid", opened)
        hidden = block.channels - len(order)
        st.caption(f"{block.title}: {block.summary}. {len(order)} of {block.channels} channels, "
                   "strongest first (by mean activation), row by row"
                   + (f"; the {hidden} weakest are not shown" if hidden else "")
                   + ("; one colour scale for all: dark is low, yellow high." if shared else
                      "; each map on its own scale (compare shapes, not brightness)."))
    with detail:
        _one_map(opened, block, values, chosen)


def _one_map(opened: Opened, block: Block, values: np.ndarray, channel: int) -> None:
    one = values[..., channel]
    rank = int(np.flatnonzero(strongest_channels(values, block.channels) == channel)[0]) + 1
    st.markdown(f"**Channel {channel}** of {block.title}: mean {one.mean():.3f}, "
                f"max {one.max():.3f}; number {rank} of {block.channels} by mean.")
    size = opened.x.shape[0]
    big = enlarge(opened.x, max(1, SIDE // size))
    spread = float(one.max() - one.min())
    heat = (one - one.min()) / spread if spread > 0 else np.zeros_like(one)
    low, high = float(values.min()), float(values.max())
    picture, mapped = st.columns(2)
    picture.image(big, caption="the input")
    mapped.image(enlarge(colour(one, low, high), max(1, SIDE // one.shape[0])),
                 caption=f"channel {channel} ({one.shape[0]}x{one.shape[1]})")
    blended, _ = st.columns(2)
    blended.image(overlay(big, heat, opacity=0.55, colormap="viridis"),
                  caption="the map over the input")
    with st.expander("Every value of this map"):
        st.plotly_chart(figures.map_figure(one, low=low, high=high, side=260),
                        key=opened.keys("values"), config={"displayModeBar": False})


def _feature_bars(opened: Opened, block: Block, values: np.ndarray, chosen: int) -> None:
    what = ("Global pooling turns each map of the block before it into one number, its mean"
            if block.kind == "gap" else f"{block.title} ({block.summary}) outputs one number "
            "per neuron")
    clickable(figures.bars_figure(values, selected=chosen), "bars", opened, width="stretch")
    st.caption(f"{what}: {values.size} features, each a bar. Feature {chosen}: "
               f"{float(values[chosen]):.4f}. Click a bar to pick a feature.")


# ---------------------------------------------------------------- filters

def filters_tab(opened: Opened, layer=None, channel=None) -> None:
    keys = opened.keys
    model = opened.inside.model
    first = filters_of(model)
    kh, kw, cin, cout = first.kernel.shape
    st.markdown(f"What the first convolution learned: **{cout} filters** of {kh}x{kw} pixels. "
                "Each filter slides over the image and answers, at every position, how much "
                "the pixels there look like it.")
    if cin == 3:
        tiles = grid(filter_tiles(first.kernel), np.arange(cout), columns=16, tile=40)
        clickable(figures.grid_figure(tiles, what="filter"), "filters", opened,
                  target="filter", also={keys("filter_layer"): first.layer})
        st.caption("Each tile is one filter, its red, green and blue weights shown as a colour, "
                   "each filter scaled on its own: mid-grey is a weight of 0, a strong colour "
                   "a large weight for that colour (its opposite colour: a negative one). Click "
                   "one to see its weights below.")
    st.subheader("One filter, input channel by input channel")
    names = conv_layers(model)
    columns = st.columns([3, 1, 2])
    chosen_layer = columns[0].selectbox("Convolution", names, key=keys("filter_layer"),
                                        format_func=lambda n: conv_name(opened, n),
                                        help="Any convolution of the model, input side first.")
    weights = filters_of(model, chosen_layer)
    n = weights.kernel.shape[-1]
    key = keys("filter")
    if st.session_state.get(key, 0) >= n:
        st.session_state[key] = 0
    picked = int(columns[1].number_input(f"Filter (0–{n - 1})", 0, n - 1, key=key))
    one = weights.kernel[..., picked]
    tile = 96 if one.shape[-1] <= 8 else 48
    st.plotly_chart(figures.grid_figure(kernel_grid(one, tile=tile), what="input channel"),
                    key=keys("kernel"), config={"displayModeBar": False})
    bias = "no bias" if weights.bias is None else f"bias {float(weights.bias[picked]):+.4f}"
    limit = float(np.abs(one).max())
    st.caption(f"Filter {picked} of {conv_name(opened, chosen_layer)}: {one.shape[0]}x"
               f"{one.shape[1]} weights for each of its {one.shape[2]} input channels "
               f"({bias}); blue negative, white 0, red positive, one scale (±{limit:.3f}). A "
               "first-layer filter's input channels are red, green and blue; a deeper one's "
               "are the maps of the block before it.")
