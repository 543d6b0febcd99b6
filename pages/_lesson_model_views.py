"""The lesson's views of the models, one function per view of ``core.labs.lesson_views.VIEWS``:
a CNN training live (the Training lab's trainer and queue), Grad-CAM, how sure a model is, where
it fails and a class quiz round. Models are loaded once per server (``_model_cache``); the
committed reports in ``models/`` stand in where the dataset is missing."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import numpy as np
import streamlit as st

from core.data.sources import CLASS_NAMES, LABELS
from core.detect.detector import prepare, verdict
from core.detect.explain import overlay
from core.labs import lesson_material, training_figures
from core.labs.lessons import day_code
from core.labs.quiz import DEFAULT_ROUND_SIZE, HUMAN_BASELINE, new_code, normalise_code
from core.labs.quiz_store import QuizStore, QuizStoreError
from core.labs.training import HEARTBEAT_TIMEOUT, Run
from core.models.knobs import REFERENCE, describe
from core.models.quicktrain import TrainSettings, train_pool
from pages import _data, _model_cache
from pages._lesson_views import (
    Context,
    chart,
    images_of,
    needs_data,
    reshuffle,
    scale_for,
    source_key,
)


def _report(name: str) -> dict | None:
    report = next((r for r in _model_cache.model_reports() if r["name"] == name), None)
    if report is None:
        st.warning(f"The model {name} is not in models/ (or not evaluated): "
                   f"`python -m core evaluate {name}`.", icon=":material/warning:")
    return report


def _percent(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


# ---------------------------------------------------------------- a CNN learns live

def _runs(ctx: Context) -> list[Run]:
    """This browser session's runs started from this step, oldest first."""
    return st.session_state.setdefault("lesson_runs", {}).setdefault(ctx.key, [])


def _curve(run: Run):
    figure = training_figures.progress_figure(run.events)
    return figure.update_xaxes(range=[0, run.settings.epochs]).update_layout(height=300)


@st.fragment(run_every=2.0)
def _live(ctx: Context) -> None:
    """The active run's place in the queue or its growing curve; reruns the page at the end."""
    run = _runs(ctx)[-1]
    if run.finished:
        st.rerun()
    run.heartbeat()
    if run.state == "queued":
        position = _model_cache.training_runner().queue_position(run)
        st.info(f"Waiting for the trainer: this server trains one model at a time. Place in the "
                f"queue: **{position or 1}**.", icon=":material/hourglass_top:")
        return
    latest = run.latest()
    if latest is None:
        st.info("Preparing the images and building the model…", icon=":material/build:")
        return
    st.progress(latest["step"] / latest["steps"],
                text=f"Epoch {latest['epoch']} of {run.settings.epochs} · about "
                     f"{latest['eta']:.0f} s left · validation accuracy "
                     f"{_percent(latest['val_accuracy'])}")
    chart(_curve(run), f"{ctx.key}_live_{run.id}", ctx)
    st.button("Stop", key=f"{ctx.key}_stop_{run.id}", icon=":material/stop:",
              on_click=run.stop, help="Ends training now and keeps the best weights so far.")


def _start(ctx: Context, settings: TrainSettings) -> None:
    """Queue a run on the dataset (decoded once per server, with a progress bar)."""
    dataset = _data.decoded_dataset()
    if dataset is None:
        return
    pool = train_pool(dataset)
    if pool < 2:
        st.warning("This dataset has too few training images.")
        return
    if settings.n_train > pool:
        settings = TrainSettings(**{**settings.as_dict(), "n_train": pool})
    _runs(ctx).append(_model_cache.training_runner().start(REFERENCE, settings, dataset))


def inside_cnn(settings: Mapping, ctx: Context) -> None:
    from pages import _inside_view  # its TensorFlow work loads only when this step is shown

    _inside_view.render(model=settings["model"], tab=settings["part"],
                        index=None if settings["image"] < 0 else settings["image"], key=ctx.key)


def training_live(settings: Mapping, ctx: Context) -> None:
    chosen = TrainSettings(epochs=settings["epochs"], n_train=settings["images"])
    runs = _runs(ctx)
    active = bool(runs) and not runs[-1].finished
    if _data.source()[0] is None:
        report = _model_cache.lab_report("reference_cnn.json")
        figure = None
        if report:
            from core.models.comparison_figures import history_figure

            figure = history_figure(report)
        if figure is not None:
            chart(figure.update_layout(height=300), f"{ctx.key}_committed", ctx)
            st.caption(f"The shipped reference CNN's committed training curve: "
                       f"{report['training'].get('schedule', '')}".rstrip(": "))
        needs_data("Live training")
        return
    st.markdown(f"**{describe(REFERENCE)}** · {chosen.n_train:,} training images · "
                f"{chosen.epochs} epochs · batch {chosen.batch_size} · Adam")
    if not active:
        slot = st.empty()
        label = "Train again" if runs else "Start training"
        if slot.button(label, type="primary", icon=":material/play_arrow:",
                       key=f"{ctx.key}_start",
                       help="One training at a time per server: a second Start waits in a "
                            f"queue. Leaving this step stops the run within "
                            f"{HEARTBEAT_TIMEOUT:.0f} s."):
            slot.empty()
            _start(ctx, chosen)
            active = bool(runs) and not runs[-1].finished
    if active:
        _live(ctx)
        return
    finished = [r for r in runs if r.finished]
    if not finished:
        busy = _model_cache.training_runner().busy()
        st.caption("About 20 seconds on two CPU cores with the reference settings."
                   + (" The trainer is busy with another run: yours would queue." if busy
                      else ""))
        return
    last = finished[-1]
    if last.state == "failed":
        st.error(f"The run failed: {last.error}", icon=":material/error:")
    elif last.state == "cancelled" or last.result is None:
        st.warning("The run was cancelled before it started (this page was left).")
    else:
        result = last.result
        c1, c2, c3 = st.columns(3)
        c1.metric("Test accuracy", _percent(result["test_accuracy"]))
        c2.metric("Test AUROC", f"{result['test_auroc']:.3f}" if result["test_auroc"] else "–")
        c3.metric("Training time", f"{result['seconds']:.0f} s")
        chart(_curve(last), f"{ctx.key}_done_{last.id}", ctx)
        st.caption(f"Tested on {result['n_test']:,} leak-free test images it never saw, at "
                   "P(FAKE) ≥ 0.5" + (" (stopped early: best weights kept)."
                                      if last.state == "stopped" else "."))


# ---------------------------------------------------------------- Grad-CAM

@st.cache_data(show_spinner=False, max_entries=64)
def _p_fake(x: np.ndarray, name: str, sha: str, calibration: str, _predictor) -> np.ndarray:
    """The model's calibrated P(FAKE); ``calibration`` keys a re-evaluated model's new one."""
    return _predictor.predict(x)


def gradcam(settings: Mapping, ctx: Context) -> None:
    index = _data.image_index()
    if index is None:
        needs_data("Heat maps")
        return
    report = _report(settings["model"])
    if report is None:
        return
    method = settings["method"]
    offset = reshuffle(ctx)
    rows, labels = lesson_material.quiz_rows(index, 2, seed=settings["seed"] + offset)
    if len(rows) < 2:
        st.warning("This dataset lacks REAL or FAKE test images.")
        return
    order = np.argsort(-labels)  # FAKE first
    rows, labels = rows[order], labels[order]
    name, sha = report["name"], report.get("sha256", "")
    predictor = _model_cache.predictor(name, sha)
    x = np.stack([prepare(im, predictor.size)
                  for im in images_of(source_key(), tuple(rows.tolist()), index)])
    with st.spinner("Computing the heat maps…"):
        tools = _model_cache.explainer(name, sha)
        p_fake = _p_fake(x, name, sha, json.dumps(report.get("calibration"), sort_keys=True),
                         predictor)
        threshold = report["threshold"]
        verdicts = [verdict(float(p), threshold, band=0.0) for p in p_fake]
        heats = [_model_cache.heatmap(xi, name, sha, method, tools.default_layer, v, tools)
                 for xi, v in zip(x, verdicts)]
    grid = np.stack([[xi, overlay(xi, heat)] for xi, heat in zip(x, heats)])
    grid = grid.reshape(1, 4, *x.shape[1:])
    titles = []
    for y, r in zip(labels, rows):
        titles += [f"{LABELS[y]} · {CLASS_NAMES[index.classes[r]]}", ""]
    st.image(lesson_material.image_board(grid, scale=scale_for(predictor.size, 192),
                                         column_labels=titles, group=2, font_scale=0.8))
    st.markdown(" · ".join(
        f"**{LABELS[y]} image**: P(FAKE) {p:.2f}, {name} says **{v}**"
        for y, p, v in zip(labels, p_fake, verdicts)))
    st.caption(f"Each pair: the test image and its {method} map. Warm colours: the regions whose "
               f"change would move {name}'s score most towards its verdict (the last "
               "convolution). A heat map shows where the model looked, not what it found there.")


# ---------------------------------------------------------------- how sure is it

def confidence(settings: Mapping, ctx: Context) -> None:
    report = _report(settings["model"])
    if report is None:
        return
    name = report["name"]
    band = settings["band"]
    if ctx.controls:
        band = st.slider("Inconclusive band (± around the threshold)", 0.0, 0.3, band, 0.01,
                         key=f"{ctx.key}_band")
    from core.models.comparison_figures import calibration_change_figure

    left, right = st.columns(2)
    test = report["metrics"]["test"]
    with left:
        st.markdown("**Calibration**: does P(FAKE) = 0.8 mean 80 % are fake?")
        chart(calibration_change_figure(report).update_layout(height=300),
              f"{ctx.key}_calibration", ctx, presenter_height=260)
    scores = _model_cache.test_scores()
    summary = None
    with right:
        st.markdown("**Inconclusive band**: scores too close to the threshold")
        if scores is None or name not in scores["scores"]:
            st.info("No test scores: run `python -m core evaluate --all`.")
        else:
            p, y = np.asarray(scores["scores"][name]), np.asarray(scores["labels"])
            summary = lesson_material.band_summary(p, y, report["threshold"], band)
            chart(lesson_material.band_figure(p, y, report["threshold"], band, height=300),
                  f"{ctx.key}_band_fig", ctx, presenter_height=260)
    flagged = ((_model_cache.lab_report("ood.json") or {}).get("models", {}).get(name, {})
               .get("flag_rates", {}).get("leakfree_test"))
    stable = (_model_cache.lab_report("stability.json") or {}).get("models", {}).get(name)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Calibration error", f"{test['ece']:.3f}",
              help=f"Expected calibration error on the test set; before calibration "
                   f"{test.get('uncalibrated', {}).get('ece', float('nan')):.3f}.")
    if summary is not None:
        c2.metric("Inconclusive", _percent(summary.inconclusive_share),
                  help=f"Test images with P(FAKE) in [{summary.low:.2f}, {summary.high:.2f}).")
        c3.metric("Accuracy on the rest", _percent(summary.accuracy_decided),
                  delta=f"{100 * (summary.accuracy_decided - summary.accuracy_all):+.1f} points",
                  help=f"Accuracy on every test image: {_percent(summary.accuracy_all)}.")
    c4.metric("Flagged as unusual", _percent(flagged),
              help="Leak-free test images whose features lie beyond the off-distribution "
                   "cut-off (models/ood.json): the verdict becomes 'inconclusive: outside what "
                   "the models learned'.")
    if stable:
        st.caption(f"Stability: {name}'s verdict flips under a mirror, a JPEG re-save or a "
                   f"1-pixel shift for {_percent(stable['unstable_share'])} of test images; "
                   f"accuracy {_percent(stable['accuracy_stable'])} on stable verdicts, "
                   f"{_percent(stable['accuracy_unstable'])} on unstable ones "
                   "(models/stability.json).")


# ---------------------------------------------------------------- where it fails

def failures(settings: Mapping, ctx: Context) -> None:
    metric = settings["metric"]
    if ctx.controls:
        metric = st.segmented_control("Measure", ["accuracy", "auroc"], default=metric,
                                      format_func={"accuracy": "Accuracy",
                                                   "auroc": "AUROC"}.get,
                                      key=f"{ctx.key}_metric") or metric
    robustness = _model_cache.lab_report("robustness.json")
    generalization = (_model_cache.lab_report("generalization.json")
                      if settings["generators"] else None)
    parts = [p for p in (robustness, generalization) if p is not None]
    if not parts:
        st.info("No robustness or generalization report in models/ (`python -m core "
                "robustness`, `python -m core generalize`).")
        return
    # side by side on a projector's full width, one under the other beside the list of steps
    columns = (st.columns([3, 2]) if len(parts) == 2 and not ctx.controls
               else [st.container() for _ in parts])
    if robustness is not None:
        models = [m for m in settings["models"] if m in robustness["models"]]
        kinds = [k for k in settings["perturbations"] if k in robustness["perturbations"]]
        with columns[0]:
            st.markdown("**The same test images, changed**")
            chart(lesson_material.robustness_panels(robustness, models, kinds, metric),
                  f"{ctx.key}_robustness", ctx)
    if generalization is not None:
        with columns[-1]:
            st.markdown("**Generators never seen in training**")
            chart(lesson_material.generators_figure(generalization, settings["models"], metric),
                  f"{ctx.key}_generators", ctx)
    st.caption("From the committed reports: "
               + (f"changes on the {robustness['set']} (`python -m core robustness`); "
                  if robustness else "")
               + "every model learned CIFAKE's Stable Diffusion fakes only; the GAN and the VAE "
                 "were trained here on CIFAKE's real photos (`python -m core generalize`).")


# ---------------------------------------------------------------- a class quiz round

def class_quiz(settings: Mapping, ctx: Context) -> None:
    code_key = f"{ctx.key}_code"
    code = st.session_state.get(code_key) or (normalise_code(settings["code"]) if settings["code"]
                                              else day_code(ctx.lesson_id, date.today()))
    left, right = st.columns([2, 3], vertical_alignment="center")
    with left:
        st.markdown("Round code")
        st.html(f'<div class="lesson-code">{code}</div>')
        st.button("New code", key=f"{ctx.key}_new_code", icon=":material/refresh:",
                  on_click=lambda: st.session_state.update({code_key: new_code()}))
    with right:
        st.page_link("pages/quiz.py", label="Open the quiz with this code", icon=":material/quiz:",
                     query_params={"quiz_code": code})
        base = (st.context.url or "").split("?")[0].rsplit("/", 1)[0]
        st.code(f"{base}/quiz?quiz_code={code}", language=None)
        st.caption(f"Everyone who opens this link (or types the code) gets the same "
                   f"{DEFAULT_ROUND_SIZE} test images in the same order.")
        if _data.source()[0] is None:
            st.info("Playing needs the CIFAKE images on this server.",
                    icon=":material/image_not_supported:")
    st.button("Refresh results", key=f"{ctx.key}_refresh", icon=":material/sync:")
    try:
        rounds = QuizStore().rounds(code)
    except QuizStoreError as exc:
        st.warning(f"The class's results are unavailable: {exc}", icon=":material/cloud_off:")
        return
    if not rounds:
        st.caption(f"No finished round with code {code} yet. People in the reference study "
                   f"averaged {HUMAN_BASELINE:.1%}.")
        return
    from core.labs.lab_figures import quiz_figure

    accuracies = [r["accuracy"] for r in rounds]
    best = max(rounds[0]["models"].items(), key=lambda kv: kv[1], default=None)
    chart(quiz_figure(accuracies, baseline=HUMAN_BASELINE,
                      models=dict([best]) if best else None).update_layout(height=280),
          f"{ctx.key}_results", ctx)
    st.caption(f"{len(rounds)} finished round(s) with code {code}: the class averaged "
               f"{np.mean(accuracies):.0%} (reference study: {HUMAN_BASELINE:.1%}).")


MODEL_VIEWS: dict[str, Callable[[Mapping[str, Any], Context], None]] = {
    "training_live": training_live, "inside_cnn": inside_cnn, "gradcam": gradcam,
    "confidence": confidence,
    "failures": failures, "class_quiz": class_quiz,
}
