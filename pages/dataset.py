"""Dataset: sample images, statistics REAL vs FAKE, duplicates and leak, embedding explorer."""

import numpy as np
import pandas as pd
import streamlit as st

from core.analysis import dataset_figures
from core.analysis.embed import MAX_SAMPLE, SPACES
from core.analysis.features import FEATURES
from core.data.imageio import enlarge
from core.data.sources import CLASS_NAMES, LABELS, SPLITS
from pages import _data, _model_cache, _router, _widgets

_router.ensure_router()

st.title("Dataset")

loaded = _data.loaded_dataset()
if loaded is not None:
    dataset, features, stats = loaded
    st.caption(f"Source: `{dataset.source}` · {len(dataset):,} images at "
               f"{dataset.size}x{dataset.size}"
               + ("" if dataset.split_given else " · no train/test folders: seeded 5:1 split"))
else:
    dataset = features = None
    stats = _data.committed_stats()
    st.info("**No dataset loaded.** The statistics and embedding below are the committed "
            "numbers of the full CIFAKE (`python -m core stats`); images need the dataset.",
            icon=":material/info:")
    _widgets.get_data_panel()
    if stats is None:
        st.error("The committed statistics (data/summary/stats.json) are missing too. "
                 "Run `python -m core stats --data PATH` to create them.")
        st.stop()

class_name = _widgets.class_filter(stats, key="dataset_class")
class_index = None if class_name == "all" else CLASS_NAMES.index(class_name)
real, fake = stats.group(class_name, "REAL"), stats.group(class_name, "FAKE")


def feature_means_table(names):
    """Mean ± standard deviation per feature, REAL vs FAKE."""
    return pd.DataFrame({
        "feature": [dataset_figures.FEATURE_TITLES[f] for f in names],
        **{label: [f"{g['feature_box'][f]['mean']:.3g} ± {g['feature_box'][f]['std']:.2g}"
                   for f in names] for label, g in (("REAL", real), ("FAKE", fake))},
    })


def needs_dataset(what):
    st.info(f"{what} need the CIFAKE images: load the dataset (see the panel above).",
            icon=":material/image_not_supported:")


tab_samples, tab_pixels, tab_blur, tab_box, tab_spectrum, tab_dupes, tab_embed = st.tabs([
    "Samples", "Pixels & colour", "Blur & background", "Box plots", "Spectrum",
    "Duplicates & leak", "Embedding map",
])

with tab_samples:
    if dataset is None:
        needs_dataset("Sample images")
    else:
        c1, c2, c3, c4 = st.columns([1, 1, 1, 1], vertical_alignment="bottom")
        split = c1.selectbox("Split", ["all", *SPLITS], key="grid_split")
        label = c2.selectbox("Label", ["all", *LABELS], key="grid_label")
        count = c3.selectbox("Images", [24, 48, 96], index=1, key="grid_count")
        if c4.button("Reshuffle", icon=":material/shuffle:", width="stretch"):
            st.session_state["grid_seed"] = st.session_state.get("grid_seed", 0) + 1
        rows = dataset.sample(
            count, seed=st.session_state.get("grid_seed", 0),
            split=None if split == "all" else SPLITS.index(split),
            label=None if label == "all" else LABELS.index(label), class_index=class_index,
        )
        st.caption(f"{len(rows)} random images, enlarged 3x with nearest-neighbour so each "
                   "of the 32x32 pixels stays visible.")
        _widgets.image_grid([dataset.images[r] for r in rows],
                            [_widgets.caption_for(dataset, r) for r in rows])

with tab_pixels:
    st.markdown(
        "**Pixel intensities.** For each colour channel, the share of all pixels at each "
        "value from 0 (dark) to 255 (bright). Where the red and blue curves differ, real and "
        "generated images use brightness and colour differently — a clue a detector can use."
    )
    st.plotly_chart(dataset_figures.pixel_hist_figure(stats, class_name), key="pixel_hist")
    st.markdown(
        "**Colour.** Each image's average red, green and blue, and its average saturation "
        "(how vivid the colours are). Stable Diffusion's images tend to be more saturated."
    )
    cols = st.columns(2)
    for i, feature in enumerate(["mean_r", "mean_g", "mean_b", "saturation"]):
        cols[i % 2].plotly_chart(dataset_figures.feature_hist_figure(stats, class_name, feature),
                                 key=f"colour_{feature}")
    st.dataframe(feature_means_table(["mean_r", "mean_g", "mean_b", "saturation", "brightness",
                                      "contrast"]), hide_index=True)

with tab_blur:
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{dataset_figures.FEATURE_TITLES['laplacian_var']}.** "
                    f"{FEATURES['laplacian_var']}")
        st.plotly_chart(dataset_figures.feature_hist_figure(stats, class_name, "laplacian_var"),
                        key="blur_hist")
    with right:
        st.markdown(f"**{dataset_figures.FEATURE_TITLES['background_residual']}.** "
                    f"{FEATURES['background_residual']}")
        st.plotly_chart(
            dataset_figures.feature_hist_figure(stats, class_name, "background_residual"),
            key="background_hist")
    st.markdown("**Highest background-defect scores** (most noisy or textured backgrounds):")
    for label, group in (("REAL", real), ("FAKE", fake)):
        top = group["top_background"]
        if dataset is None:
            st.dataframe(pd.DataFrame(top).assign(label=label), hide_index=True)
            continue
        rows = dataset.rows_of([t["path"] for t in top])
        st.caption(label)
        _widgets.image_grid([dataset.images[r] for r in rows if r >= 0],
                            [f"{t['score']:.1f}" for t, r in zip(top, rows) if r >= 0],
                            columns=12, scale=3)

with tab_box:
    st.markdown(
        "**Box plots.** The box spans the middle half of the images (25th to 75th "
        "percentile), the line is the median, whiskers reach the furthest image within 1.5 "
        "box-lengths, and circles are outliers beyond them (the most extreme 25 per side; "
        "hover for the total). Boxes that do not overlap mean a feature separates real from "
        "fake well on its own."
    )
    for names in (["laplacian_var", "background_residual", "hf_ratio"],
                  ["brightness", "contrast", "saturation"]):
        st.plotly_chart(dataset_figures.box_figure(stats, class_name, names), key=f"box_{names[0]}")

with tab_spectrum:
    st.markdown(
        "**Frequency spectrum.** The 2-D Fourier transform splits an image into waves: the "
        "centre holds slow changes (large shapes), the edges fine detail. Shown is the average "
        "log-magnitude over all images, and the difference FAKE − REAL (red: more energy in "
        "generated images, blue: less). Generators often leave periodic traces that show up "
        "as spots or grids here."
    )
    st.plotly_chart(dataset_figures.spectrum_figure(stats, class_name), key="spectrum")
    st.markdown(
        "**Radial power spectrum.** The same energy averaged over rings: how much power each "
        "frequency carries, from coarse (left) to the finest detail a 32x32 image can hold "
        "(right, 0.5 cycles per pixel)."
    )
    st.plotly_chart(dataset_figures.radial_figure(stats, class_name), key="radial")

with tab_dupes:
    dup = stats.duplicates
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
    st.dataframe(pd.DataFrame([{"folder": k, "images": stats.counts[k.split("/")[0]][k.split("/")[1]],
                                "unique contents": v} for k, v in dup["unique_contents"].items()]),
                 hide_index=True)
    if dataset is None:
        needs_dataset("Example duplicate groups")
    else:
        groups = _data.duplicate_groups(dataset)
        leaked = [g for g in groups if len(set(dataset.splits[g])) > 1]
        st.markdown(f"**Examples of leaked groups** (first 12 of {len(leaked):,}): each pair is "
                    "one file found in both train and test.")
        shown = [r for group in leaked[:12] for r in group]
        _widgets.image_grid([dataset.images[r] for r in shown],
                            [dataset.paths[r] for r in shown])

with tab_embed:
    st.markdown(
        "**Embedding map.** Each dot is one image, placed so that images that are similar in "
        "the chosen space land close together. **t-SNE** keeps close neighbours close (distances "
        "between far clusters mean little); **PCA** is the best flat projection (distances are "
        "faithful but clusters overlap more). Select dots with the lasso or box to see the "
        "images below."
    )
    c1, c2, c3, c4 = st.columns(4)
    # each CNN's features are a space too; a model loads only once its space is picked
    spaces = SPACES if dataset is None else {**SPACES, **_model_cache.model_spaces(dataset.size)}
    space = c1.selectbox("Space", list(spaces), key="embed_space",
                         format_func=lambda s: s.rsplit("-", 1)[0].replace("cnn-", "CNN: "),
                         help="\n\n".join(f"**{k}**: {v.description}" for k, v in spaces.items()))
    method = c2.selectbox("Method", ["tsne", "pca"], key="embed_method",
                          format_func={"tsne": "t-SNE", "pca": "PCA"}.get)
    colour_by = c3.selectbox("Colour by", ["label", "class"], key="embed_colour")
    if dataset is not None:
        n = c4.select_slider("Sample size", [500, 1000, 2000, 5000, MAX_SAMPLE], value=2000,
                             key="embed_n", help="Stratified by label and class.")
        result = _data.embedding(dataset, features, space=space, method=method, n=n,
                                 spaces=spaces)
        rows = result.rows
        points = dataset_figures.points_frame(result.coords, dataset.labels[rows],
                                              dataset.classes[rows], dataset.splits[rows],
                                              dataset.paths[rows], rows)
        point_features = features[rows]
    else:
        committed = _data.committed_embedding()
        c4.caption(f"Committed sample: {committed['meta']['n']:,} images")
        p = committed["points"]
        points = dataset_figures.points_frame(
            np.asarray(committed["coords"][f"{space}/{method}"]), p["label"], p["class"],
            p["split"], p["path"], np.full(len(p["path"]), -1))
        point_features = np.column_stack([committed["features"][f] for f in FEATURES])
    shown = points if class_index is None else points[points["class"] == class_name]
    title = f"{'t-SNE' if method == 'tsne' else 'PCA'} of {len(shown):,} images ({space})"
    event = st.plotly_chart(dataset_figures.embedding_figure(shown, colour_by, title),
                            on_select="rerun", selection_mode=("points", "box", "lasso"),
                            key=f"embed_chart_{space}_{method}_{class_name}")
    selected = sorted({int(p["customdata"][0]) for p in event.selection.points})
    if not selected:
        st.caption("Nothing selected yet: drag a lasso or box around some dots.")
    else:
        # up to 48 evenly spread over the selection, so both labels show when both are selected
        chosen = selected[:: max(1, len(selected) // 48)][:48]
        st.markdown(f"**{len(selected):,} selected** "
                    f"({(points.loc[selected, 'label'] == 'FAKE').mean():.0%} FAKE)"
                    + (f" — showing {len(chosen)} of them" if len(selected) > len(chosen) else ""))
        chosen_points = points.loc[chosen]
        if dataset is not None:
            _widgets.image_grid([dataset.images[r] for r in chosen_points["row"]],
                                [f"{lab} · {cls}" for lab, cls in
                                 zip(chosen_points["label"], chosen_points["class"])])
        else:
            needs_dataset("Images of the selected points")
        pick = st.selectbox("Enlarge one image", chosen, key="embed_pick",
                            format_func=lambda i: f"{points.at[i, 'path']} "
                                                  f"({points.at[i, 'label']}, {points.at[i, 'class']})")
        left, right = st.columns([1, 2])
        if dataset is not None:
            left.image(enlarge(dataset.images[points.at[pick, "row"]], 8),
                       caption=points.at[pick, "path"])
        values = point_features[pick]
        right.dataframe(pd.DataFrame({
            "feature": [dataset_figures.FEATURE_TITLES[f] for f in FEATURES],
            "this image": [f"{v:.3g}" for v in values],
            "REAL median": [f"{real['feature_box'][f]['median']:.3g}" for f in FEATURES],
            "FAKE median": [f"{fake['feature_box'][f]['median']:.3g}" for f in FEATURES],
        }), hide_index=True)
