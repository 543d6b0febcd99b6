"""Filters lab: the reference study's four filters on real and fake images side by side, and
what a CNN learns when it only sees filtered images."""

import numpy as np
import streamlit as st

from core.data.sources import CLASS_NAMES
from core.labs import filters, lab_figures
from pages import _data, _model_cache, _router, _url, _widgets

_router.ensure_router()

st.title("Filters lab")
st.markdown(
    "What does a detector rely on? Filter the images so that one kind of information is gone, "
    "train on what is left, and see how well it still works. **Gray World** removes colour "
    "casts, **Gaussian** and **median blur** remove fine detail, the **SRM residual** keeps "
    "only fine detail (the noise pattern), without colour or shape."
)


def filtered_images():
    dataset = _data.image_index()  # the committed CIFAKE is read image by image
    if dataset is None:
        _widgets.get_data_panel()
    else:
        c1, c2, c3 = st.columns(3)
        chosen = _url.bound(c1.multiselect, "Filters", list(filters.FILTERS),
                            default=list(filters.FILTERS),
                            format_func=lambda k: filters.FILTERS[k].label, key="filters")
        class_id = _url.bound(c2.selectbox, "CIFAR class", range(len(CLASS_NAMES)),
                              format_func=lambda c: "All classes" if c == 0 else CLASS_NAMES[c],
                              key="class")
        per_label = _url.bound(c3.slider, "Images per label", 2, 8, 4, key="n")
        seed = _url.get_int("seed", 1 << 30) or 0
        if st.button("Reshuffle", icon=":material/shuffle:", key="filters_shuffle"):
            seed = int(np.random.default_rng().integers(1 << 30))
            _url.put("seed", seed)
        rows = np.concatenate([dataset.sample(per_label, seed=seed + label, split=1, label=label,
                                              class_index=class_id or None)
                               for label in (0, 1)])
        if not len(rows):
            st.warning("No test images of this class.")
        else:
            images = _data.images(dataset, rows)
            captions = [_widgets.caption_for(dataset, r) for r in rows]
            st.markdown("**Original**")
            _widgets.image_grid(list(images), captions, columns=len(rows), scale=4)
            for key in chosen:
                chosen_filter = filters.FILTERS[key]
                st.markdown(f"**{chosen_filter.label}**: {chosen_filter.description}")
                _widgets.image_grid(list(filters.apply_filter(key, images)), captions,
                                    columns=len(rows), scale=4)


def matrix():
    report = _model_cache.lab_report(filters.REPORT)
    if report is None:
        st.info("No filter matrix yet: run `python -m core filters` (it trains one CNN per "
                "filter and writes `models/filter_matrix.json`).")
    else:
        st.markdown(
            f"`{report['model']}` trained for {report['epochs']} epochs on each version of the "
            f"train split, then tested on each version of the {report['n_test']:,} leak-free "
            "test images (accuracy at the threshold chosen on its validation images). The "
            "diagonal is train and test on the same filter; the first column is the filtered "
            "model on original images.")
        st.plotly_chart(lab_figures.filter_matrix_figure(report), key="filters_matrix")
        table = lab_figures.filter_matrix_frame(report)
        st.dataframe(table, hide_index=True, column_config={
            c: st.column_config.NumberColumn(format="%.1f") for c in table.columns[1:]})
        st.caption(
            "Reference study: Gray World 50 %, Gaussian 95.3 %, median 92.9 %, SRM 85.5 % (trained "
            "and tested on the filter); its filter-trained models scored about 50 % on original "
            "images. Reproduce ours with `python -m core filters`.")


# only the open tab runs
TABS = {"Filtered images": filtered_images, "Train on filtered images": matrix}
for tab, section in zip(_url.bound(st.tabs, list(TABS), key="tab"), TABS.values()):
    if tab.open:
        with tab:
            section()
