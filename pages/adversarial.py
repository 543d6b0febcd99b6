"""Adversarial lab: FGSM and PGD perturbations, invisible to people, that flip a CNN's verdict,
and accuracy-versus-epsilon curves."""

import streamlit as st

from core.data.imageio import enlarge
from core.detect.detector import verdict
from core.labs import adversarial, lab_figures
from pages import _data, _model_cache, _router, _url, _widgets

_router.ensure_router()

st.title("Adversarial lab")
st.markdown(
    "An attacker who can read a model's gradients can nudge every pixel by a tiny amount "
    "(epsilon, in steps of 1/255) in the direction that most increases the model's error. "
    "**FGSM** takes one such step; **PGD** takes ten smaller ones, staying within epsilon of the "
    "original. The changes are invisible, the verdicts are not."
)


def attack():
    dataset = _data.decoded_dataset()
    detector = _model_cache.detector() if dataset is not None else None
    if dataset is None:
        _widgets.get_data_panel()
    elif detector is not None:
        cnns = [n for n in detector.names if detector.families.get(n) != "classical"]
        row = _data.random_test_row(dataset, key="image", leakfree=True)
        if row is not None and cnns:
            c1, c2, c3 = st.columns(3)
            name = _url.bound(c1.selectbox, "Model", cnns, key="model")
            method = _url.bound(c2.segmented_control, "Attack", ["fgsm", "pgd"], default="fgsm",
                                format_func=str.upper, key="attack") or "fgsm"
            epsilon = _url.bound(c3.slider, "Epsilon (/255)", 0.0, 16.0, 2.0, 0.5, key="epsilon")
            result = adversarial.attack_image(detector.predictors[name], dataset.images[row],
                                              int(dataset.labels[row]), method, epsilon)
            left, middle, right = st.columns(3)
            left.image(enlarge(result.original, 6), caption="Original")
            middle.image(enlarge(result.shown, 6),
                         caption=f"{method.upper()}, epsilon {epsilon:g}/255")
            right.image(enlarge(result.amplified_change, 6),
                        caption="The change, amplified to full contrast")
            # the side of the threshold each score is on (no inconclusive band)
            threshold = detector.threshold(name)
            before = verdict(result.p_before, threshold, band=0.0)
            after = verdict(result.p_after, threshold, band=0.0)
            c1, c2, c3 = st.columns(3)
            c1.metric("True label", _widgets.caption_for(dataset, row))
            c2.metric(f"P(FAKE) before: {before}", f"{result.p_before:.3f}")
            c3.metric(f"P(FAKE) after: {after}", f"{result.p_after:.3f}",
                      f"{result.p_after - result.p_before:+.3f}")
            if before != after:
                st.error(f"The attack flipped {name}'s verdict from {before} to {after}, "
                         f"changing no pixel by more than {epsilon:g}/255.",
                         icon=":material/bolt:")
            else:
                st.success(f"{name}'s verdict held ({after}); try a larger epsilon or PGD.",
                           icon=":material/shield:")
            st.caption(f"Largest pixel change: {result.largest_change:.1f}/255; mean "
                       f"{result.mean_change:.2f}/255. The attack pushes towards the wrong "
                       "label using this model's own gradients.")



def curves():
    report = _model_cache.lab_report(adversarial.REPORT)
    if report is None:
        st.info("No adversarial report yet: run `python -m core adversarial` (writes "
                "`models/adversarial.json`).")
    else:
        names = list(report["models"])
        chosen = _url.bound(st.multiselect, "Models", names, default=names, key="models")
        if chosen:
            st.plotly_chart(lab_figures.adversarial_figure(report, chosen), key="adv_curves")
        st.caption(f"Accuracy of each CNN on the {report['set']} images after "
                   "the attack at each epsilon. Reproduce with `python -m core adversarial`.")


# only the open tab runs
TABS = {"Attack one image": attack, "Accuracy vs epsilon": curves}
for tab, section in zip(_url.bound(st.tabs, list(TABS), key="tab"), TABS.values()):
    if tab.open:
        with tab:
            section()
