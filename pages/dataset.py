"""Dataset: sample images, statistics REAL vs FAKE, duplicates and leak, embedding explorer.

Only the open tab runs. With the CIFAKE of the committed summary, statistics and embedding come
from the summary and images are read one by one as shown: nothing is decoded in full unless an
embedding other than the committed ones is asked for. Any other source is decoded once, and each
tab computes what it needs (features and statistics, embeddings) when it is opened."""

import numpy as np
import pandas as pd
import streamlit as st

from core.analysis import dataset_figures
from core.analysis.embed import MAX_SAMPLE, SPACES
from core.analysis.features import FEATURES
from core.data.imageio import enlarge
from core.data.sources import CLASS_NAMES, LABELS, SPLITS
from pages import _data, _router, _url, _widgets

_router.ensure_router()

st.title("Dataset")

path, _ = _data.source()
committed = _data.committed_match()  # the committed statistics, when they describe this source
dataset = None  # decoded only when a tab needs it
if path is None:
    index, stats = None, _data.committed_stats()
    st.info("**No dataset loaded.** The statistics and embedding below are the committed "
            "numbers of the full CIFAKE (`python -m core stats`); images need the dataset.",
            icon=":material/info:")
    _widgets.get_data_panel()
    if stats is None:
        st.error("The committed statistics (data/summary/stats.json) are missing too. "
                 "Run `python -m core stats --data PATH` to create them.")
        st.stop()
elif committed is not None:
    index, stats = _data.source_listing(), committed
    st.caption(f"Source: `{path}` · {len(index):,} images at {stats.meta['size']}x"
               f"{stats.meta['size']} · the CIFAKE of the committed summary: its statistics and "
               "embedding are shown at once (`python -m core stats`), images are read as shown")
else:
    dataset = _data.decoded_dataset()
    if dataset is None:
        st.stop()
    index, stats = dataset, None  # statistics computed by the first tab that needs them
    st.caption(f"Source: `{dataset.source}` · {len(dataset):,} images at "
               f"{dataset.size}x{dataset.size}"
               + ("" if dataset.split_given else " · no train/test folders: seeded 5:1 split"))

classes = stats.classes if stats is not None else ["all", *(
    CLASS_NAMES[c] for c in np.unique(dataset.classes))]
class_name = _widgets.class_filter(classes, key="class")
class_index = None if class_name == "all" else CLASS_NAMES.index(class_name)


def statistics():
    """The statistics and the selected class's REAL and FAKE groups (computed on first use)."""
    shown = stats if stats is not None else _data.stats_of(dataset)
    return shown, shown.group(class_name, "REAL"), shown.group(class_name, "FAKE")


def feature_means_table(names, real, fake):
    """Mean ± standard deviation per feature, REAL vs FAKE."""
    return pd.DataFrame({
        "feature": [dataset_figures.FEATURE_TITLES[f] for f in names],
        **{label: [f"{g['feature_box'][f]['mean']:.3g} ± {g['feature_box'][f]['std']:.2g}"
                   for f in names] for label, g in (("REAL", real), ("FAKE", fake))},
    })


def needs_dataset(what):
    st.info(f"{what} need the CIFAKE images: load the dataset (see the panel above).",
            icon=":material/image_not_supported:")


def images_of_paths(paths, captions, **grid):
    """An image grid of the given files of the source (those it has)."""
    rows = index.rows_of(paths)
    found = rows >= 0
    _widgets.image_grid(list(_data.images(index, rows[found])),
                        [c for c, ok in zip(captions, found) if ok], **grid)


def samples():
    if index is None:
        needs_dataset("Sample images")
        return
    c1, c2, c3, c4 = st.columns([1, 1, 1, 1], vertical_alignment="bottom")
    split = _url.bound(c1.selectbox, "Split", ["all", *SPLITS], key="split")
    label = _url.bound(c2.selectbox, "Label", ["all", *LABELS], key="label")
    count = _url.bound(c3.selectbox, "Images", [24, 48, 96], index=1, key="count")
    seed = _url.get_int("seed", 2**31) or 0
    if c4.button("Reshuffle", icon=":material/shuffle:", width="stretch"):
        seed = (seed + 1) % 2**31
        _url.put("seed", seed)
    rows = index.sample(
        count, seed=seed,
        split=None if split == "all" else SPLITS.index(split),
        label=None if label == "all" else LABELS.index(label), class_index=class_index,
    )
    st.caption(f"{len(rows)} random images, enlarged 3x with nearest-neighbour so each "
               "of the 32x32 pixels stays visible.")
    _widgets.image_grid(list(_data.images(index, rows)),
                        [_widgets.caption_for(index, r) for r in rows])


def pixels():
    shown, real, fake = statistics()
    st.markdown(
        "**Pixel intensities.** For each colour channel, the share of all pixels at each "
        "value from 0 (dark) to 255 (bright). Where the red and blue curves differ, real and "
        "generated images use brightness and colour differently — a clue a detector can use."
    )
    st.plotly_chart(dataset_figures.pixel_hist_figure(shown, class_name), key="pixel_hist")
    st.markdown(
        "**Colour.** Each image's average red, green and blue, and its average saturation "
        "(how vivid the colours are). Stable Diffusion's images tend to be more saturated."
    )
    cols = st.columns(2)
    for i, feature in enumerate(["mean_r", "mean_g", "mean_b", "saturation"]):
        cols[i % 2].plotly_chart(dataset_figures.feature_hist_figure(shown, class_name, feature),
                                 key=f"colour_{feature}")
    st.dataframe(feature_means_table(["mean_r", "mean_g", "mean_b", "saturation", "brightness",
                                      "contrast"], real, fake), hide_index=True)


def blur():
    shown, real, fake = statistics()
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{dataset_figures.FEATURE_TITLES['laplacian_var']}.** "
                    f"{FEATURES['laplacian_var']}")
        st.plotly_chart(dataset_figures.feature_hist_figure(shown, class_name, "laplacian_var"),
                        key="blur_hist")
    with right:
        st.markdown(f"**{dataset_figures.FEATURE_TITLES['background_residual']}.** "
                    f"{FEATURES['background_residual']}")
        st.plotly_chart(
            dataset_figures.feature_hist_figure(shown, class_name, "background_residual"),
            key="background_hist")
    st.markdown("**Highest background-defect scores** (most noisy or textured backgrounds):")
    for label, group in (("REAL", real), ("FAKE", fake)):
        top = group["top_background"]
        if index is None:
            st.dataframe(pd.DataFrame(top).assign(label=label), hide_index=True)
            continue
        st.caption(label)
        images_of_paths([t["path"] for t in top], [f"{t['score']:.1f}" for t in top],
                        columns=12, scale=3)


def box_plots():
    shown, _, _ = statistics()
    st.markdown(
        "**Box plots.** The box spans the middle half of the images (25th to 75th "
        "percentile), the line is the median, whiskers reach the furthest image within 1.5 "
        "box-lengths, and circles are outliers beyond them (the most extreme 25 per side; "
        "hover for the total). Boxes that do not overlap mean a feature separates real from "
        "fake well on its own."
    )
    for names in (["laplacian_var", "background_residual", "hf_ratio"],
                  ["brightness", "contrast", "saturation"]):
        st.plotly_chart(dataset_figures.box_figure(shown, class_name, names), key=f"box_{names[0]}")


def spectrum():
    shown, _, _ = statistics()
    st.markdown(
        "**Frequency spectrum.** The 2-D Fourier transform splits an image into waves: the "
        "centre holds slow changes (large shapes), the edges fine detail. Shown is the average "
        "log-magnitude over all images, and the difference FAKE − REAL (red: more energy in "
        "generated images, blue: less). Generators often leave periodic traces that show up "
        "as spots or grids here."
    )
    st.plotly_chart(dataset_figures.spectrum_figure(shown, class_name), key="spectrum")
    st.markdown(
        "**Radial power spectrum.** The same energy averaged over rings: how much power each "
        "frequency carries, from coarse (left) to the finest detail a 32x32 image can hold "
        "(right, 0.5 cycles per pixel)."
    )
    st.plotly_chart(dataset_figures.radial_figure(shown, class_name), key="radial")


def duplicates():
    shown, _, _ = statistics()
    dup = shown.duplicates
    st.markdown(
        "**Exact duplicates** are files with identical bytes (same content hash). A test "
        "image that also occurs in train *leaks*: a model may have memorised it, so every "
        "evaluation in this app also reports the **leak-free test** set (test minus leaked images)."
    )
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Duplicate groups", f"{dup['duplicate_groups']:,}")
    m2.metric("Redundant copies", f"{dup['redundant_copies']:,}")
    m3.metric("Test images leaked from train", f"{dup['leaked_test']:,}")
    m4.metric("Leak-free test images", f"{dup['leakfree_test']:,}")
    where = dup["groups_by_location"]
    st.dataframe(pd.DataFrame(
        [{"where": f"within {k}", "groups": v} for k, v in where["within_one_folder"].items()]
        + [{"where": "across train and test (leak)", "groups": where["across_splits"]},
           {"where": "across REAL and FAKE", "groups": where["across_labels"]}]
    ), hide_index=True)
    st.dataframe(pd.DataFrame([{"folder": k,
                                "images": shown.counts[k.split("/")[0]][k.split("/")[1]],
                                "unique contents": v} for k, v in dup["unique_contents"].items()]),
                 hide_index=True)
    if index is None:
        needs_dataset("Example duplicate groups")
        return
    examples = dup.get("leak_examples", [])
    st.markdown(f"**Examples of leaked groups** (first {len(examples)} of "
                f"{where['across_splits']:,}): each pair is one file found in both train and test.")
    shown_paths = [p for group in examples for p in group]
    images_of_paths(shown_paths, shown_paths)


def embedding_map():
    global dataset
    st.markdown(
        "**Embedding map.** Each dot is one image, placed so that images that are similar in "
        "the chosen space land close together. **t-SNE** keeps close neighbours close (distances "
        "between far clusters mean little); **PCA** is the best flat projection (distances are "
        "faithful but clusters overlap more). Select dots with the lasso or box to see the "
        "images below."
    )
    from pages import _model_cache  # imported here: the other tabs load faster without it

    c1, c2, c3, c4 = st.columns(4)
    # each CNN's features are a space too; a model loads only once its space is picked
    spaces = (SPACES if index is None
              else {**SPACES, **_model_cache.model_spaces(_data.image_size())})
    space = _url.bound(
        c1.selectbox, "Space", list(spaces), key="space",
        format_func=lambda s: s.rsplit("-", 1)[0].replace("cnn-", "CNN: "),
        help="\n\n".join(f"**{k}**: {v.description}" for k, v in spaces.items()))
    method = _url.bound(c2.selectbox, "Method", ["tsne", "pca"], key="method",
                        format_func={"tsne": "t-SNE", "pca": "PCA"}.get)
    colour_by = _url.bound(c3.selectbox, "Colour by", ["label", "class"], key="colour")
    summary = _data.committed_embedding() if stats is not None else None
    if index is not None:
        n = _url.bound(c4.select_slider, "Sample size", [500, 1000, 2000, 5000, MAX_SAMPLE],
                       value=2000, key="n", help="Stratified by label and class.")
    else:
        n = summary["meta"]["n"]
        c4.caption(f"Committed sample: {n:,} images")
    if (summary is not None and n == summary["meta"]["n"]
            and f"{space}/{method}" in summary["coords"]):
        p = summary["points"]
        rows = np.full(len(p["path"]), -1) if index is None else index.rows_of(p["path"])
        points = dataset_figures.points_frame(
            np.asarray(summary["coords"][f"{space}/{method}"]), p["label"], p["class"],
            p["split"], p["path"], rows)
        point_features = np.column_stack([summary["features"][f] for f in FEATURES])
    else:
        if dataset is None:  # the CIFAKE of the summary, asked for an embedding it has not
            st.caption("This embedding is not in the committed summary: decoding the images "
                       "and computing it (once per server).")
            dataset = _data.decoded_dataset()
            if dataset is None:
                return
            if dataset.fingerprint != stats.meta["fingerprint"]:
                st.warning("These images differ from the CIFAKE of the committed summary "
                           "(same file names and sizes, different contents): the statistics "
                           "in the other tabs are the summary's.", icon=":material/warning:")
        features = _data.features_of(dataset)
        result = _data.embedding(dataset, features, space=space, method=method, n=n,
                                 spaces=spaces)
        rows = result.rows
        points = dataset_figures.points_frame(result.coords, dataset.labels[rows],
                                              dataset.classes[rows], dataset.splits[rows],
                                              dataset.paths[rows], rows)
        point_features = features[rows]
    shown, real, fake = statistics()
    in_class = points if class_index is None else points[points["class"] == class_name]
    title = f"{'t-SNE' if method == 'tsne' else 'PCA'} of {len(in_class):,} images ({space})"
    event = st.plotly_chart(dataset_figures.embedding_figure(in_class, colour_by, title),
                            on_select="rerun", selection_mode=("points", "box", "lasso"),
                            key=f"embed_chart_{space}_{method}_{class_name}")
    selected = sorted({int(p["customdata"][0]) for p in event.selection.points})
    if not selected:
        st.caption("Nothing selected yet: drag a lasso or box around some dots.")
        return
    # up to 48 evenly spread over the selection, so both labels show when both are selected
    chosen = selected[:: max(1, len(selected) // 48)][:48]
    st.markdown(f"**{len(selected):,} selected** "
                f"({(points.loc[selected, 'label'] == 'FAKE').mean():.0%} FAKE)"
                + (f" — showing {len(chosen)} of them" if len(selected) > len(chosen) else ""))
    chosen_points = points.loc[chosen]
    if index is not None:
        images_of_paths(list(chosen_points["path"]),
                        [f"{lab} · {cls}" for lab, cls in
                         zip(chosen_points["label"], chosen_points["class"])])
    else:
        needs_dataset("Images of the selected points")
    pick = st.selectbox("Enlarge one image", chosen, key="embed_pick",
                        format_func=lambda i: f"{points.at[i, 'path']} "
                                              f"({points.at[i, 'label']}, {points.at[i, 'class']})")
    left, right = st.columns([1, 2])
    if index is not None and points.at[pick, "row"] >= 0:
        left.image(enlarge(_data.images(index, [points.at[pick, "row"]])[0], 8),
                   caption=points.at[pick, "path"])
    values = point_features[pick]
    right.dataframe(pd.DataFrame({
        "feature": [dataset_figures.FEATURE_TITLES[f] for f in FEATURES],
        "this image": [f"{v:.3g}" for v in values],
        "REAL median": [f"{real['feature_box'][f]['median']:.3g}" for f in FEATURES],
        "FAKE median": [f"{fake['feature_box'][f]['median']:.3g}" for f in FEATURES],
    }), hide_index=True)


# only the open tab runs (on_change="rerun"): a tab's work waits until it is opened
SECTIONS = {"Samples": samples, "Pixels & colour": pixels, "Blur & background": blur,
            "Box plots": box_plots, "Spectrum": spectrum, "Duplicates & leak": duplicates,
            "Embedding map": embedding_map}
for tab, section in zip(_url.bound(st.tabs, list(SECTIONS), key="tab", on_change="rerun"),
                        SECTIONS.values()):
    if tab.open:
        with tab:
            section()
