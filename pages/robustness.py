"""Robustness lab: how every model's accuracy and AUROC fall under JPEG re-compression, blur,
noise, rescaling, cropping and Gray World, and one image's P(FAKE) under a chosen change."""

import streamlit as st

from core.data.imageio import enlarge
from core.data.sources import CLASS_NAMES, LABELS
from core.detect import verdict_figures
from core.labs import lab_figures, robustness
from pages import _data, _model_cache, _router, _url, _widgets

_router.ensure_router()

st.title("Robustness lab")
st.markdown(
    "A detector that only works on pristine files is of little use: images get re-saved, "
    "resized and filtered. Here every model faces the same harmless-looking changes."
)


def battery():
    report = _model_cache.lab_report(robustness.REPORT)
    if report is None:
        st.info("No robustness report yet: run `python -m core robustness` (writes "
                "`models/robustness.json`).")
    else:
        names = list(report["models"])
        c1, c2 = st.columns([3, 1])
        default = ([n for n in names if n in ("flagship", "flagship_robust", "reference_cnn")]
                   or names)
        chosen = _url.bound(c1.multiselect, "Models", names, default=default, key="models")
        metric = _url.bound(c2.segmented_control, "Metric", ["auroc", "accuracy"],
                            default="auroc",
                            format_func={"auroc": "AUROC", "accuracy": "Accuracy"}.get,
                            key="metric") or "auroc"
        if chosen:
            st.plotly_chart(lab_figures.robustness_figure(report, chosen, metric),
                            key="robust_curves")
        st.caption(
            f"Each point: one model on the {report['set']} images after the change; "
            "accuracy uses the model's validation-chosen threshold, AUROC does not need "
            "one. Reproduce with `python -m core robustness`. The best open study's from-scratch "
            "CNN kept AUROC 0.88 under JPEG q50, 0.80 under blur σ 1 and 0.80 under a 16-pixel "
            "rescale.")



def one_image():
    dataset = _data.decoded_dataset()
    detector = _model_cache.detector() if dataset is not None else None
    if dataset is None:
        _widgets.get_data_panel()
    elif detector is not None:
        row = _data.random_test_row(dataset, key="image", leakfree=True)
        if row is not None:
            c1, c2 = st.columns(2)
            kind = _url.bound(c1.selectbox, "Change", list(robustness.PERTURBATIONS),
                              format_func=lambda k: robustness.PERTURBATIONS[k].label,
                              key="change")
            perturbation = robustness.PERTURBATIONS[kind]
            low, high, default, step = perturbation.slider
            severity = _url.bound(c2.slider, perturbation.unit, low, high, default, step,
                                  key=kind)  # one parameter per change: its own range
            image = dataset.images[row]
            changed = perturbation.apply(image[None], severity)[0]
            left, right, info = st.columns([1, 1, 2])
            left.image(enlarge(image, 6), caption="Original")
            right.image(enlarge(changed, 6), caption=f"{perturbation.label}: {severity}")
            info.markdown(f"True label: **{LABELS[dataset.labels[row]]}** "
                          f"({CLASS_NAMES[dataset.classes[row]]})")
            before, after = detector.score(image[None]), detector.score(changed[None])
            flipped = robustness.changed_verdicts(detector, before, after)
            info.markdown(f"Verdicts changed: **{len(flipped)}** of {len(after)}"
                          + (f" ({', '.join(flipped)})" if flipped else ""))
            st.plotly_chart(verdict_figures.scores_figure(
                verdict_figures.scores_frame(after, detector)), key="robust_scores")
            st.caption("P(FAKE) of every model on the changed image; move the slider and watch "
                       "the bars. Black tick: each model's threshold.")


# only the open tab runs
TABS = {"Battery (all test images)": battery, "Try one image": one_image}
for tab, section in zip(_url.bound(st.tabs, list(TABS), key="tab"), TABS.values()):
    if tab.open:
        with tab:
            section()
