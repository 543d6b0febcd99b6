"""Batch scan: many images or zips scored by the chosen models into a table with the ensemble
verdict, the off-distribution score and reason, and a stability flag, downloadable as CSV or JSON
(the same as ``python -m core predict``); and the models evaluated on your own labelled images
(the same as ``python -m core evaluate --on``)."""

import streamlit as st

from core.data.perturb import STABILITY_CHECKS
from core.detect import ood
from core.detect.detector import ENSEMBLE, SCANNER, VIEWS, scan_models
from core.detect.scanning import (
    DEPRECATED_COLUMNS,
    IMAGE_SUFFIXES,
    iter_uploads,
    rows_to_csv,
    rows_to_json,
    scan,
)
from core.errors import DataError
from core.labs import own_data
from core.models import comparison_figures
from pages import _model_cache, _router, _url, _widgets

_router.ensure_router()

st.title("Batch scan")
st.markdown(
    "Score many images at once: upload files or zips (every image inside is scanned). Each row "
    "gets every chosen model's P(FAKE), the ensemble's verdict, an off-distribution score with "
    "its reason (a file unlike the 32x32 JPEGs the models learned from gets the verdict "
    f"\"{ood.INCONCLUSIVE}\") and whether the verdict survives harmless changes (mirroring, "
    "re-saving, a one-pixel shift). Files that cannot be read get a row saying why. The same "
    "scan runs from the command line: `python -m core predict FOLDER_OR_ZIP --csv scan.csv`."
)

everything = _model_cache.detector()
if everything is None:
    st.stop()

files = st.file_uploader(
    "Images or zips", type=["zip", *(s.lstrip(".") for s in IMAGE_SUFFIXES)],
    accept_multiple_files=True, key="scan_upload",
    help="Files stay in memory; nothing is saved.")
left, right = st.columns(2)
default_models = scan_models() or everything.names
models = _url.bound(left.multiselect, "Models", everything.names, default=default_models,
                    key="models",
                    help=f"The default, {SCANNER}, scores thousands of images per "
                         "second; add the flagship for the most accurate verdicts.")
ensemble = _url.bound(
    right.multiselect, "Ensemble (mean P(FAKE), decided at 0.5)", models,
    default=[n for n in everything.ensemble if n in models] or models[:1], key="ensemble")
c1, c2 = st.columns(2)
view = _url.bound(c1.segmented_control, "Preprocessing", list(VIEWS),
                  format_func=VIEWS.get, default="resize", key="view") or "resize"
check = _url.bound(c2.toggle,
                   f"Stability check ({len(STABILITY_CHECKS)} changed copies per image)",
                   value=True, key="stability")

with st.expander("Evaluate on your own labelled images", icon=":material/rule:"):
    st.markdown("Upload a zip (or files) with `REAL/` and `FAKE/` folders, at any depth, any sizes "
                "and formats: every chosen model's accuracy, AUROC and ROC curve on them next to "
                "its CIFAKE test figures, the share flagged off-distribution and the most "
                "confident mistakes. The same as `python -m core evaluate --on PATH`.")
    own = st.file_uploader("Labelled images or zips", type=["zip", *(s.lstrip(".") for s in
                                                                    IMAGE_SUFFIXES)],
                           accept_multiple_files=True, key="own_upload")
    if own and models and ensemble and st.button("Evaluate", icon=":material/rule:",
                                                 key="own_evaluate"):
        chosen = _model_cache.detector(tuple(models), tuple(ensemble))
        try:
            result = own_data.evaluate_uploads([(f.name, f.getvalue()) for f in own], chosen)
        except DataError as exc:
            st.error(_widgets.escape_markdown(str(exc)), icon=":material/error:")
        else:
            st.markdown(f"**{result['scored']:,}** of {result['images']:,} images scored "
                        f"({result['counts']['REAL']:,} REAL, {result['counts']['FAKE']:,} "
                        f"FAKE); **{result['flag_rate']:.0%}** flagged off-distribution.")
            table = own_data.results_frame(result)
            st.dataframe(table, hide_index=True, column_config={
                c: st.column_config.NumberColumn(format="%.3f") for c in table.columns[1:]})
            curves = [{"name": n, "metrics": {"own": {"roc_curve": m["roc_curve"],
                                                      "roc_auc": m["auroc"]}}}
                      for n, m in result["models"].items() if m["roc_curve"]]
            if curves:
                st.plotly_chart(comparison_figures.curves_figure(curves, "roc", "own"),
                                key="own_roc")
            st.markdown("**Most confident mistakes of the ensemble**")
            mistakes = result["models"][ENSEMBLE]["mistakes"]
            if len(mistakes):
                st.dataframe(mistakes, hide_index=True)
            else:
                st.caption("None: the ensemble got every image right.")
            for error in result["errors"]:
                st.caption(_widgets.escape_markdown(f"Unreadable: {error['path']}: "
                                                    f"{error['message']}"))

if not files:
    st.info("Upload images or a zip to scan.", icon=":material/upload:")
    st.stop()
if not models or not ensemble:
    st.warning("Choose at least one model and one ensemble member.")
    st.stop()

key = (tuple((f.name, f.size, f.file_id) for f in files), tuple(models), tuple(ensemble), view,
       check)
if st.button("Scan", type="primary", icon=":material/play_arrow:") or \
        st.session_state.get("scan_key") == key:
    if st.session_state.get("scan_key") != key:
        detector = _model_cache.detector(tuple(models), tuple(ensemble))
        if detector is None:
            st.stop()
        placeholder = st.empty()
        rows = scan(iter_uploads([(f.name, f.getvalue()) for f in files]),
                            detector, view=view, check_stability=check,
                            progress=_widgets.progress_into(placeholder))
        placeholder.empty()
        st.session_state["scan_key"], st.session_state["scan_rows"] = key, rows
    rows = st.session_state["scan_rows"]
    if not rows:
        st.warning("No image files in the upload (zips are searched for "
                   f"{', '.join(IMAGE_SUFFIXES)}).")
        st.stop()
    ok = [r for r in rows if r["status"] == "ok"]
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.metric("Files", f"{len(rows):,}")
    c2.metric("FAKE (ensemble)", f"{sum(r['verdict'] == 'FAKE' for r in ok):,}")
    c3.metric("Off-distribution", f"{sum(bool(r['ood_reason']) for r in ok):,}",
              help="Inconclusive: unlike the images the models learned from (see ood_reason).")
    c4.metric("Errors", f"{len(rows) - len(ok):,}")
    if check:
        c5.metric("Unstable verdicts", f"{sum(r['stability'] == 'unstable' for r in ok):,}")
    probability = {c: st.column_config.ProgressColumn(c.removeprefix("p_fake_"), format="%.3f",
                                                      min_value=0.0, max_value=1.0)
                   for c in rows[0] if c.startswith("p_fake_")}
    first = ["path", "status", "verdict", "ood_ratio", "ood_reason", "stability",
             "p_fake_ensemble"]
    order = [c for c in first if c in rows[0]] + [c for c in rows[0] if c not in first
                                                   and c not in DEPRECATED_COLUMNS]
    st.dataframe(rows, hide_index=True, column_config=probability, column_order=order)
    d1, d2 = st.columns(2)
    d1.download_button("Download CSV", rows_to_csv(rows), file_name="scan.csv",
                       mime="text/csv", icon=":material/download:")
    d2.download_button("Download JSON", rows_to_json(rows), file_name="scan.json",
                       mime="application/json", icon=":material/download:")
