"""The tabs of Inside the CNN that look across the test set (they need the dataset): the test
images that drive a channel most and least, and the channels that separate REAL from FAKE."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.data.imageio import enlarge, resize_square
from core.data.sources import CLASS_NAMES, LABELS
from core.detect import inside_figures as figures
from core.detect.explain import overlay
from core.labs.inside_channels import (
    N_EXTREMES,
    N_SAMPLE,
    cached,
    channel_stats,
    extremes,
    separation,
)
from pages import _data, _widgets
from pages._inside_tabs import MAP_KINDS, Opened, clickable, pick_block, pick_channel

TOP_TAB = "Top images of a channel"
SHOWN = 96  # display side of each test image


def _stats(opened: Opened, block):
    """``(dataset, ChannelStats)`` of ``block`` on the test sample, computed (after a click,
    with a progress bar) when not on disk yet; None, with the reason shown, otherwise."""
    dataset = _data.decoded_dataset()
    if dataset is None:
        st.info(f"This view needs the dataset: it runs the model on {N_SAMPLE:,} test images. "
                "The other tabs work on an upload.", icon=":material/folder_off:")
        _widgets.get_data_panel()
        return None
    sha = opened.predictor.sha256
    if not cached(sha, dataset, block.id):
        st.info(f"{opened.name} has not been run on the {N_SAMPLE:,} test images yet (a "
                "stratified sample of the leak-free test set). It takes about half a minute "
                "on 2 CPU cores, once per model: the results are kept on disk.",
                icon=":material/hourglass_empty:")
        if not st.button(f"Run {opened.name} on {N_SAMPLE:,} test images", type="primary",
                         key=opened.keys("compute")):
            return None
    placeholder = st.empty()
    try:
        stats = _data.memo(
            ("inside", sha, dataset.fingerprint, block.id),
            lambda: channel_stats(opened.inside, sha, dataset, block.id,
                                  progress=_widgets.progress_into(placeholder)))
    except ValueError as exc:
        st.warning(_widgets.escape_markdown(str(exc)))
        return None
    finally:
        placeholder.empty()
    return dataset, stats


def _images(dataset, rows: np.ndarray, size: int) -> np.ndarray:
    images = dataset.images[rows]
    return images if dataset.size == size else np.stack([resize_square(i, size) for i in images])


def top_images_tab(opened: Opened, layer: str | None, channel: int | None) -> None:
    keys = opened.keys
    st.markdown(f"What does a channel respond to? Among {N_SAMPLE:,} test images, the "
                f"{N_EXTREMES} that make it fire most and the {N_EXTREMES} that make it fire "
                "least (by its mean activation over the image), with their true labels.")
    left, right, where = st.columns([3, 2, 2], vertical_alignment="bottom")
    with left:
        block = pick_block(opened, layer)
    with right:
        chosen = pick_channel(opened, block, channel)
    show_where = where.toggle("Show where it fires", key=keys("where"), disabled=not block.spatial,
                              help="Each image with the channel's map over it (one scale for "
                                   "all 32 images).")
    found = _stats(opened, block)
    if found is None:
        return
    dataset, stats = found
    values = stats.means[:, chosen]
    top, bottom = extremes(values)
    size = opened.x.shape[0]
    picked = np.concatenate([top, bottom])
    images = _images(dataset, stats.rows[picked], size)
    shown = [enlarge(image, max(1, SHOWN // size)) for image in images]
    if show_where and block.spatial:
        maps = opened.inside.activations(images).maps[block.id][..., chosen]
        low, high = float(maps.min()), float(maps.max())
        heat = (maps - low) / (high - low) if high > low else np.zeros_like(maps)
        shown = [overlay(s, h, opacity=0.6, colormap="viridis") for s, h in zip(shown, heat)]
    for title, part in (("most", slice(0, len(top))), ("least", slice(len(top), None))):
        rows = stats.rows[picked[part]]
        n_fake = int((dataset.labels[rows] == 1).sum())
        st.markdown(f"**The {len(rows)} that activate {block.title}, channel {chosen} "
                    f"{title}**: {n_fake} FAKE, {len(rows) - n_fake} REAL")
        captions = [f"{LABELS[dataset.labels[r]]} · {CLASS_NAMES[dataset.classes[r]]} · {v:.2f}"
                    for r, v in zip(rows, values[picked[part]])]
        _widgets.image_grid(shown[part], captions, columns=8, scale=1)
    st.plotly_chart(figures.channel_histogram(values, stats.labels), key=keys("histogram"),
                    config={"displayModeBar": False})
    st.caption(f"Channel {chosen}'s mean activation on each of the {len(values):,} images, REAL "
               "and FAKE apart: where the two humps sit apart, the channel alone tells them "
               "apart (see Real vs fake channels).")


def _open(keys, channel: int) -> None:
    st.session_state.update({keys("channel"): channel, keys("tab"): TOP_TAB})


def separation_tab(opened: Opened, layer: str | None, channel: int | None) -> None:
    keys = opened.keys
    st.markdown(f"Does a single channel tell REAL from FAKE? For each channel: its mean "
                f"activation on the REAL and on the FAKE images among the {N_SAMPLE:,} test "
                "images, and its **AUROC** used alone as a FAKE score (0.5: it does not tell "
                "them apart; 1: it fires more on every FAKE than on any REAL; 0: the reverse).")
    block = pick_block(opened, layer)
    found = _stats(opened, block)
    if found is None:
        return
    dataset, stats = found
    sha = opened.predictor.sha256
    _across_blocks(opened, dataset, stats)
    st.subheader(f"The channels of {block.title}")
    sep = _data.memo(("inside-separation", sha, dataset.fingerprint, block.id),
                     lambda: separation(stats.means, stats.labels))
    selected = st.session_state.get(keys("channel"))
    also = {keys("tab"): TOP_TAB}
    bars, points = st.columns([3, 2])
    with bars:
        clickable(figures.separation_figure(sep.auroc, sep.mean_real, sep.mean_fake, sep.ranked,
                                            selected=selected), "separation", opened,
                  also=also, width="stretch")
        st.caption(f"The {min(20, block.channels)} channels of {block.title} that separate "
                   "best: red ones fire more on FAKE images, blue ones on REAL. Click a bar to "
                   "see the images that drive that channel.")
    with points:
        clickable(figures.means_figure(sep.mean_real, sep.mean_fake, sep.auroc, selected),
                  "means", opened, also=also, width="stretch")
        st.caption("Every channel: mean on REAL (across) against mean on FAKE (up). On the "
                   "dotted line a channel responds to both alike. Click a point to open it.")
    best = int(sep.ranked[0])
    st.markdown(f"Channel **{best}** separates best: AUROC {sep.auroc[best]:.3f}; it fires "
                f"more on **{sep.leans(best)}** images (mean {sep.mean_fake[best]:.3f} on FAKE, "
                f"{sep.mean_real[best]:.3f} on REAL). Do its top images share a background, a "
                "texture or a colour?")
    st.button(f"Open channel {best}'s top images", key=keys("open_best"), on_click=_open,
              args=(keys, best), icon=":material/image_search:")


def _across_blocks(opened: Opened, dataset, stats) -> None:
    """The best single channel of every block already measured, input side first."""
    blocks = [b for b in opened.inside.network.blocks if b.kind in MAP_KINDS]
    sha = opened.predictor.sha256
    if not all(cached(sha, dataset, b.id) for b in blocks):
        return
    best = _data.memo(("inside-blocks", sha, dataset.fingerprint), lambda: [
        separation(channel_stats(opened.inside, sha, dataset, b.id).means, stats.labels).best
        for b in blocks])
    st.subheader("Block by block")
    clickable(figures.block_separation_figure([b.title for b in blocks], best), "blocks",
              opened, target="layer", also={opened.keys("channel"): None}, cast=str,
              width="stretch")
    st.caption("How well the best single channel of each block separates REAL from FAKE, from "
               "the input to the last block: how far the network has to go before one channel "
               "alone can tell them apart. Click a bar to look at that block's channels.")
