"""The tab of Inside the CNN that runs one convolution step by step: a filter sliding over the
input with a slider, buttons and a play switch, the window, weights, products, sum, bias and
activation at each position, and the output map filling in, every number checked against the
model."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.detect import inside_figures as figures
from core.detect.explain import conv_layers
from core.detect.inside import Inside
from core.detect.inside_conv import ConvStep, ConvTrace, trace_conv
from core.detect.inside_images import colour
from pages._inside_tabs import Opened, conv_name


@st.cache_resource(show_spinner=False, max_entries=32)
def _trace(x: np.ndarray, name: str, sha: str, _inside: Inside) -> ConvTrace:
    return trace_conv(_inside, x)


def convolution_tab(opened: Opened, layer=None, channel=None) -> None:
    keys = opened.keys
    trace = _trace(opened.x, opened.name, opened.predictor.sha256, opened.inside)
    kh, kw, cin, cout = trace.kernel.shape
    st.markdown(f"The first convolution, **{conv_name(opened, trace.layer)}**, slides each of "
                f"its {cout} filters "
                f"over the input. At every position it multiplies the {kh}x{kw}x{cin} numbers "
                "under the filter by the filter's weights, adds the products up (and a bias), "
                "and writes the result into the output map. Step through it and check every "
                "number.")
    columns = st.columns([2, 1, 3], vertical_alignment="bottom")
    strongest_here = int(np.argmax(trace.outputs.mean(axis=(0, 1))))
    filter_index = columns[0].number_input(f"Filter (0–{cout - 1})", 0, cout - 1,
                                           value=strongest_here, key=keys("conv_filter"))
    playing = columns[1].toggle("Play", key=keys("play"),
                                help="Move the filter one position every second.")
    _stepper(opened, trace, int(filter_index), playing)


def _move(key: str, by: int, positions: int) -> None:
    st.session_state[key] = (st.session_state[key] + by) % positions


def _stepper(opened: Opened, trace: ConvTrace, filter_index: int, playing: bool) -> None:
    key = opened.keys("position")
    outputs = trace.outputs[..., filter_index]
    if key not in st.session_state:
        st.session_state[key] = int(np.argmax(outputs))

    @st.fragment(run_every=1.0 if playing else None)
    def body():
        if playing:
            _move(key, 1, trace.positions)
        back, slider, forward = st.columns([1, 12, 1], vertical_alignment="bottom")
        back.button(":material/chevron_left:", key=f"{key}_back", on_click=_move,
                    args=(key, -1, trace.positions), help="one position back")
        index = slider.slider("Position of the filter (row by row)", 0, trace.positions - 1,
                              key=key)
        forward.button(":material/chevron_right:", key=f"{key}_forward", on_click=_move,
                       args=(key, 1, trace.positions), help="one position on")
        row, col = trace.position(index)
        step = trace.step(row, col, filter_index)
        _show_step(opened, trace, step, index)

    body()


def _show_step(opened: Opened, trace: ConvTrace, step: ConvStep, index: int) -> None:
    kh, kw, cin, _ = trace.kernel.shape
    pictures, numbers = st.columns([2, 3])
    with pictures:
        first = trace.inputs.shape[-1] == 3 and trace.layer == conv_layers(opened.inside.model)[0]
        shown = opened.x if first else np.repeat(
            colour(trace.inputs.mean(axis=-1), *_range(trace.inputs))[..., :1], 3, axis=-1)
        st.plotly_chart(figures.conv_input_figure(shown, step, (kh, kw), trace.pad_top),
                        key=opened.keys("conv_input"), config={"displayModeBar": False})
        st.caption(f"The input; the red square is the filter's {kh}x{kw} window over rows "
                   f"{step.top}–{step.top + kh - 1}, columns {step.left}–{step.left + kw - 1}"
                   + (" (grey: the zero padding around the image)" if trace.pad_top else "")
                   + ".")
        st.plotly_chart(figures.conv_output_figure(trace.outputs[..., step.channel], index),
                        key=opened.keys("conv_output"), config={"displayModeBar": False})
        st.caption(f"Filter {step.channel}'s output map, filled in up to this position.")
    with numbers:
        names = ["red", "green", "blue"] if cin == 3 else None
        st.plotly_chart(figures.conv_arithmetic_figure(step, names),
                        key=opened.keys("conv_numbers"), config={"displayModeBar": False})
        st.markdown(_arithmetic(opened, trace, step))


def _range(values: np.ndarray) -> tuple[float, float]:
    return float(values.min()), float(values.max())


def _arithmetic(opened: Opened, trace: ConvTrace, step: ConvStep) -> str:
    """The sums of one step in words, each number checked against the model."""
    kh, kw, cin, _ = trace.kernel.shape
    model_value = float(trace.outputs[step.row, step.col, step.channel])
    agrees = abs(model_value - step.value) <= 1e-4 * max(1.0, abs(model_value))
    prep = next((b for b in opened.inside.network.blocks if b.kind == "prep"), None)
    lines = []
    if prep is not None and trace.layer == conv_layers(opened.inside.model)[0]:
        lines.append(f"The window holds the layer's real input: the pixels after the model's "
                     f"preprocessing ({prep.summary}), not the 0–255 values.")
    lines.append(f"**Sum** of the {kh * kw * cin} products: {step.total:.4f}")
    if step.bias is None:
        lines.append("**Bias**: none in this layer (the BatchNorm after it adds a shift).")
    else:
        lines.append(f"**+ bias** {step.bias:+.4f} = {step.total + step.bias:.4f}")
    lines.append(f"**Activation** ({step.activation}): {step.value:.4f}. The model's own "
                 f"output here: {model_value:.4f} "
                 + (":green[✓ the same]" if agrees else ":red[✗ differs]"))
    for label, formula, value in step.after:
        lines.append(f"**{label}**: {formula} = {value:.4f}")
    block = next(b for b in opened.inside.network.blocks if trace.layer in b.layers)
    final = step.after[-1][2] if step.after else step.value
    if block.kind == "conv":
        lines.append(f"→ **{final:.4f}** at row {step.row}, column {step.col} of channel "
                     f"{step.channel} in {block.title}'s activation map.")
    return "  \n".join(lines)
