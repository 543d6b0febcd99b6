"""Model comparison: leaderboard, curves, confusion matrices, calibration, per-class accuracy,
training curves, PCA sweep, agreement and ensembles, and a drill-down into test images."""

import numpy as np
import pandas as pd
import streamlit as st

from core.data.sources import CLASS_NAMES, LABELS
from core.models import comparison, comparison_figures
from core.models.cards import model_card
from pages import _data, _model_cache, _router, _url, _widgets

_router.ensure_router()

st.title("Model comparison")
st.markdown(
    "Every model was trained on CIFAKE's train split (seeded 90/10 train/validation split) by "
    "`python -m core train` and scored by one harness, `python -m core evaluate`, on the 20,000 "
    "test images and on the **leak-free** test set (test minus the images that also occur in "
    "train). Verdicts use each model's threshold chosen on validation data."
)

reports = _model_cache.model_reports()
if not reports:
    st.warning("No evaluated models in `models/` yet. Train one with "
               "`python -m core train reference_cnn` and evaluate with "
               "`python -m core evaluate --all`.")
    st.stop()

board = comparison.leaderboard_frame(reports)
st.subheader("Leaderboard")
FORMATS = {"test acc %": "%.2f", "leak-free acc %": "%.2f", "test acc @0.5 %": "%.2f",
           "reference acc %": "%.1f", "AUROC": "%.4f", "ECE": "%.3f", "threshold": "%.3f",
           "params": "%d", "file MB": "%.2f", "train s": "%.0f", "images/s": "%.0f",
           "1 image ms": "%.2f"}
st.dataframe(board, hide_index=True, column_config={
    column: st.column_config.NumberColumn(format=fmt) for column, fmt in FORMATS.items()})
with st.expander("Published CIFAKE results we compare with"):
    st.dataframe(comparison.references_frame(), hide_index=True,
                 column_config={"test acc %": st.column_config.NumberColumn(format="%.2f")})

limits = comparison.limits_frame(_model_cache.lab_report("ood.json"),
                                 _model_cache.lab_report("stability.json"))
if not limits.empty:
    with st.expander("Off-distribution flags and stability on the leak-free test set"):
        st.dataframe(limits, hide_index=True, column_config={
            c: st.column_config.NumberColumn(format="%.1f") for c in limits.columns[1:]})
        st.caption("Flagged: the share of leak-free test images whose features lie beyond the "
                   "cut-off set on validation images (models with a fitted feature distribution, "
                   "`python -m core ood`). Stable: the share whose verdict holds when the image is "
                   "mirrored, re-saved as JPEG q95 and q90 and shifted by one pixel, with the "
                   "accuracy of stable and unstable verdicts (`python -m core stability`, a "
                   "stratified sample).")

by_name = {r["name"]: r for r in reports}
names = list(board["model"])
chosen = _url.bound(st.multiselect, "Models to compare", names, default=names[:5], key="models")
split = _url.bound(st.segmented_control, "Test set", ["test", "leakfree_test"], default="test",
                   format_func={"test": "Test (20,000)", "leakfree_test": "Leak-free test"}.get,
                   key="test") or "test"
selected = [by_name[n] for n in chosen]
if not selected:
    st.info("Choose at least one model.")
    st.stop()


def cards():
    name = _url.bound(st.selectbox, "Model", chosen, key="card")
    report = by_name[name]
    left, right = st.columns([3, 2])
    for section, rows in model_card(report, _model_cache.lab_report("robustness.json")).items():
        left.markdown(f"**{section}**")
        left.table(pd.DataFrame(rows, columns=["", name]).set_index(""))
    if report.get("calibration"):
        right.markdown("**Calibration** maps the model's raw output to a probability that means "
                       "what it says, fitted on validation images only; the ranking (AUROC) "
                       "does not change.")
        right.plotly_chart(comparison_figures.calibration_change_figure(report),
                           key="card_calibration")


def curves():
    st.markdown("**ROC**: how many fakes a model catches (up) for each share of real images it "
                "wrongly flags (right); the area under it (AUROC, in the legend) is 1 for a "
                "perfect ranking and 0.5 for a coin flip. **Precision-recall**: of the images "
                "called FAKE, how many are (up), as more fakes are caught (right).")
    left, right = st.columns(2)
    left.plotly_chart(comparison_figures.curves_figure(selected, "roc", split), key="roc")
    right.plotly_chart(comparison_figures.curves_figure(selected, "pr", split), key="pr")


def confusion():
    st.markdown("**Confusion matrices** at each model's validation threshold: rows are the "
                "truth, columns the verdict, with counts and the share of each true class.")
    cols = st.columns(min(len(selected), 3))
    for i, report in enumerate(selected):
        cols[i % len(cols)].plotly_chart(comparison_figures.confusion_figure(report, split),
                                         key=f"cm_{report['name']}")
    st.markdown("**Reliability**: when a model says P(FAKE) = 0.8, are 80 % of those images "
                "fake? Points on the diagonal mean honest probabilities; the expected "
                "calibration error (ECE) is the average gap.")
    st.plotly_chart(comparison_figures.calibration_figure(selected, split), key="calibration")


def per_class():
    st.markdown("**Accuracy per CIFAR class**: some classes are easier to fake convincingly.")
    st.plotly_chart(comparison_figures.per_class_figure(selected, split), key="per_class")


def training():
    shown = False
    for report in selected:
        figure = comparison_figures.history_figure(report)
        if figure is not None:
            st.plotly_chart(figure, key=f"history_{report['name']}")
            shown = True
        else:
            st.caption(f"{report['name']}: {' '.join(report.get('notes', [])) or 'no epochs'}")
    if not shown:
        st.info("The chosen models are not trained in epochs (classical models).")


def pca_sweep():
    sweep = _model_cache.pca_sweep()
    if sweep is None:
        st.info("No PCA sweep yet: run `python -m core sweep pca`.")
    else:
        st.markdown("**PCA sweep**: logistic regression on the first *k* principal components "
                    "of the pixels. Few components keep only coarse colour and layout; the "
                    "reference study went from 71.4 % at 10 to 81.4 % at 1,024.")
        st.plotly_chart(comparison_figures.pca_sweep_figure(sweep), key="sweep")


def agreement():
    scores_file = _model_cache.test_scores()
    if scores_file is None:
        st.info("No test scores yet: run `python -m core evaluate --all`.")
    else:
        available = [n for n in chosen if n in scores_file["scores"]]
        scores = {n: np.asarray(scores_file["scores"][n]) for n in available}
        thresholds = {n: by_name[n]["threshold"] for n in available}
        st.markdown("**Agreement**: the share of test images on which two models give the same "
                    "verdict. Models that disagree often make different mistakes, so averaging "
                    "them can help.")
        matrix = comparison.agreement_matrix(scores, thresholds)
        st.plotly_chart(comparison_figures.agreement_figure(matrix), key="agreement")
        members = _url.bound(st.multiselect,
                             "Ensemble members (average of P(FAKE), threshold 0.5)",
                             available, default=available[:3], key="ensemble")
        if members:
            ens = comparison.ensemble_report(scores_file["scores"], members, scores_file["labels"],
                                             scores_file["classes"], scores_file["leakfree"])
            c1, c2, c3 = st.columns(3)
            c1.metric("Ensemble test accuracy", f"{100 * ens['test']['at_0.5']['accuracy']:.2f} %")
            c2.metric("Leak-free accuracy",
                      f"{100 * ens['leakfree_test']['at_0.5']['accuracy']:.2f} %")
            c3.metric("AUROC", f"{ens['test']['roc_auc']:.4f}")
    weighted = _model_cache.lab_report("ensemble.json")
    st.markdown("**Weighted ensemble** of the CNNs: weights and threshold chosen on the "
                "validation images only (a logistic regression on the logits of the calibrated "
                "P(FAKE), with no negative weight), then scored once on the test images.")
    if weighted is None:
        st.info("Not measured yet: run `python -m core evaluate --ensemble`.")
    else:
        weights, figures = comparison.weighted_ensemble_frames(weighted)
        st.dataframe(figures, hide_index=True, column_config={
            c: st.column_config.NumberColumn(format=f) for c, f in [
                ("threshold", "%.3f"), ("validation acc %", "%.2f"), ("test acc %", "%.2f"),
                ("leak-free acc %", "%.2f"), ("AUROC", "%.4f")]})
        left, right = st.columns([1, 2])
        left.dataframe(weights, hide_index=True,
                       column_config={"weight": st.column_config.NumberColumn(format="%.3f")})
        right.markdown(weighted["reading"])
        st.caption("A weight multiplies a model's log-odds; 0 leaves the model out. The best "
                   "single model is the one with the best validation accuracy; the equal-weight "
                   "ensemble is the app's default (the three best by test accuracy, mean "
                   "P(FAKE) at 0.5). Test figures from `models/test_scores.json`.")


def drill_down():
    scores_file = _model_cache.test_scores()
    if scores_file is None:
        st.info("No test scores yet: run `python -m core evaluate --all`.")
    else:
        c1, c2 = st.columns(2)
        name = _url.bound(c1.selectbox, "Model", [n for n in chosen if n in scores_file["scores"]],
                          key="drill")
        cells = {"most confident mistakes": None, "REAL called FAKE": (0, 1),
                 "FAKE called REAL": (1, 0), "REAL called REAL": (0, 0), "FAKE called FAKE": (1, 1)}
        cell_name = _url.bound(c2.selectbox, "Confusion cell", list(cells), key="cell")
        if name:
            p = np.asarray(scores_file["scores"][name])
            positions = comparison.mistakes(p, np.asarray(scores_file["labels"]),
                                            by_name[name]["threshold"], cell=cells[cell_name])
            st.caption(f"{len(positions)} images shown, most confident first "
                       f"(P(FAKE), threshold {by_name[name]['threshold']:.3f}).")
            paths = [scores_file["paths"][i] for i in positions]
            index = _data.image_index()  # the committed CIFAKE is read row by row
            if index is None:
                st.dataframe(pd.DataFrame({
                    "file": paths, "P(FAKE)": p[positions],
                    "true": [LABELS[scores_file["labels"][i]] for i in positions],
                    "class": [CLASS_NAMES[scores_file["classes"][i]] for i in positions],
                }), hide_index=True)
                st.info("Images need the CIFAKE dataset (see the Home page).")
            else:
                rows = index.rows_of(paths)
                found = rows >= 0
                _widgets.image_grid(list(_data.images(index, rows[found])),
                                    [f"{LABELS[index.labels[r]]} · P={p[i]:.3f}"
                                     for r, i in zip(rows, positions) if r >= 0])


# only the open tab runs
TABS = {"Model cards": cards, "ROC & PR": curves, "Confusion & calibration": confusion,
        "Per class": per_class, "Training": training, "PCA sweep": pca_sweep,
        "Agreement & ensemble": agreement, "Drill-down": drill_down}
for tab, section in zip(_url.bound(st.tabs, list(TABS), key="tab"), TABS.values()):
    if tab.open:
        with tab:
            section()
