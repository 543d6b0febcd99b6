"""Adversarial lab: FGSM and PGD perturbations, invisible to people, that flip a CNN's verdict,
and accuracy-versus-epsilon curves."""

import numpy as np
import streamlit as st

from core.data.imageio import enlarge
from core.data.sources import CLASS_NAMES, LABELS
from core.detect.predict import verdict
from core.labs import adversarial, lab_figures
from pages import _ui

_ui.ensure_router()

st.title("Adversarial lab")
st.markdown(
    "An attacker who can read a model's gradients can nudge every pixel by a tiny amount "
    "(epsilon, in steps of 1/255) in the direction that most increases the model's error. "
    "**FGSM** takes one such step; **PGD** takes ten smaller ones, staying within epsilon of the "
    "original. The changes are invisible, the verdicts are not."
)

tab_live, tab_curves = st.tabs(["Attack one image", "Accuracy vs epsilon"])

with tab_live:
    loaded = _ui.loaded_dataset()
    detector = _ui.detector() if loaded is not None else None
    if loaded is None:
        _ui.get_data_panel()
    elif detector is not None:
        cnns = [n for n in detector.names if detector.families.get(n) != "classical"]
        dataset = loaded[0]
        row = _ui.random_test_row(dataset, key="adv_row", leakfree=True)
        if row is not None and cnns:
            c1, c2, c3 = st.columns(3)
            name = c1.selectbox("Model", cnns, key="adv_model")
            method = c2.segmented_control("Attack", ["fgsm", "pgd"], default="fgsm",
                                          format_func=str.upper, key="adv_method") or "fgsm"
            epsilon = c3.slider("Epsilon (/255)", 0.0, 16.0, 2.0, 0.5, key="adv_epsilon")
            model = detector.predictors[name].model
            image, label = dataset.images[row], int(dataset.labels[row])
            attacked = adversarial.attack(model, image[None], np.array([label]), method,
                                          epsilon)[0]
            shown = attacked.round().clip(0, 255).astype(np.uint8)
            delta = attacked - image.astype(np.float32)
            amplified = (128 + delta * (127 / max(epsilon, 1e-6))).clip(0, 255).astype(np.uint8)
            p_before = float(detector.predictors[name].predict(image[None])[0])
            p_after = float(np.asarray(model(attacked[None], training=False)).reshape(-1)[0])
            threshold = detector.threshold(name)
            left, middle, right = st.columns(3)
            left.image(enlarge(image, 6), caption="Original")
            middle.image(enlarge(shown, 6), caption=f"{method.upper()}, epsilon {epsilon:g}/255")
            right.image(enlarge(amplified, 6), caption="The change, amplified to full contrast")
            before, after = verdict(p_before, threshold, 0), verdict(p_after, threshold, 0)
            c1, c2, c3 = st.columns(3)
            c1.metric("True label", f"{LABELS[label]} · {CLASS_NAMES[dataset.classes[row]]}")
            c2.metric(f"P(FAKE) before: {before}", f"{p_before:.3f}")
            c3.metric(f"P(FAKE) after: {after}", f"{p_after:.3f}", f"{p_after - p_before:+.3f}")
            if before != after:
                st.error(f"The attack flipped {name}'s verdict from {before} to {after}, "
                         f"changing no pixel by more than {epsilon:g}/255.",
                         icon=":material/bolt:")
            else:
                st.success(f"{name}'s verdict held ({after}); try a larger epsilon or PGD.",
                           icon=":material/shield:")
            st.caption(f"Largest pixel change: {np.abs(delta).max():.1f}/255; mean "
                       f"{np.abs(delta).mean():.2f}/255. The attack pushes towards the wrong "
                       "label using this model's own gradients.")

with tab_curves:
    report = _ui.lab_report(adversarial.REPORT)
    if report is None:
        st.info("No adversarial report yet: run `python -m core.adversarial` (writes "
                "`models/adversarial.json`).")
    else:
        names = list(report["models"])
        chosen = st.multiselect("Models", names, default=names, key="adv_models")
        if chosen:
            st.plotly_chart(lab_figures.adversarial_figure(report, chosen), key="adv_curves")
        st.caption(f"Accuracy of each CNN on the {report['set']} images after "
                   "the attack at each epsilon. Reproduce with `python -m core.adversarial`.")
