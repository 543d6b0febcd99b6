"""Training lab: train a small CNN live (knobs, a live chart, Stop, results, save as a model),
and the committed sweeps and learning curves beside the reference study."""

import pandas as pd
import streamlit as st

from core.data.imageio import enlarge
from core.data.sources import LABELS
from core.detect.explain import overlay
from core.labs import training_figures
from core.labs.training import HEARTBEAT_TIMEOUT, Run, name_problem, save_run
from core.models import comparison_figures
from core.models import sweeps as sweeps_core
from core.models.augment import AUGMENTATIONS
from core.models.knobs import REFERENCE, Knobs
from core.models.quicktrain import OPTIMIZERS, TrainSettings, train_pool
from pages import _data, _model_cache, _router, _url, _widgets

_router.ensure_router()

# knob (its widget key and URL parameter) -> the "reference settings", each knob's default: the
# student reports' CNN on a quick schedule (images and size: the nearest the dataset allows)
REFERENCE_SETTINGS = {
    "conv": REFERENCE.conv_blocks, "filters": REFERENCE.filters,
    "dense": REFERENCE.dense_layers, "neurons": REFERENCE.neurons, "l2": REFERENCE.l2,
    "dropout": REFERENCE.dropout, "augment": [], "optimizer": "adam",
    "lr": 1e-3, "epochs": 3, "batch": 64, "images": 5000, "size": 32,
}
TRAIN_SIZES = [1000, 2000, 5000, 10_000, 20_000, 45_000]


runner = _model_cache.training_runner  # one trainer per server, shared with the lesson


def runs() -> list[Run]:
    """This browser session's runs, oldest first."""
    return st.session_state.setdefault("tl_runs", [])


def active_run() -> Run | None:
    return next((r for r in reversed(runs()) if not r.finished), None)


def use_reference(defaults: dict) -> None:
    st.session_state.update(defaults)


def percent(x) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


st.title("Training lab")
st.markdown(
    "Watch a CNN learn to tell real photos from generated ones: choose its layers and how it "
    "trains, press **Start**, and follow its loss and accuracy as it learns. The other tabs show "
    "what the same knobs did in longer, reproducible sweeps, beside a published study.")

# every tab runs (a live run's chart must keep its heartbeat); the open one is in the URL
tab_train, tab_sweeps, tab_curves = _url.bound(st.tabs, ["Train a CNN", "Sweeps",
                                                         "Learning curves"], key="tab")


# ---------------------------------------------------------------- train live

def knob_panel(pool: int, dataset_size: int) -> tuple[Knobs, TrainSettings] | None:
    sizes = [n for n in TRAIN_SIZES if n < pool] + [pool]
    image_sizes = [s for s in (16, 24, 32, 64) if s <= dataset_size]
    ref = {**REFERENCE_SETTINGS,  # the values this dataset allows
           "images": min(sizes, key=lambda n: abs(n - REFERENCE_SETTINGS["images"])),
           "size": REFERENCE_SETTINGS["size"] if 32 in image_sizes else image_sizes[-1]}
    st.button("Reference settings", on_click=use_reference, args=(ref,),
              icon=":material/restart_alt:",
              help="The student reports' CNN (Conv 32/64/128, Dense 128, 355,649 parameters) "
                   "on 5,000 images for 3 epochs: about a minute on two CPU cores.")

    c1, c2, c3 = st.columns(3)
    with c1:
        st.markdown("**Layers**")
        conv = _url.bound(st.slider, "Convolutional blocks", 1, 4, ref["conv"], key="conv")
        filters = _url.bound(st.select_slider,
                             "Filters in the first block (doubling in each next)",
                             [8, 16, 32, 64], ref["filters"], key="filters")
        dense = _url.bound(st.slider, "Dense layers", 0, 4, ref["dense"], key="dense")
        neurons = _url.bound(st.select_slider, "Neurons per dense layer",
                             [16, 32, 64, 128, 256, 512], ref["neurons"], key="neurons",
                             disabled=dense == 0)
    with c2:
        st.markdown("**Regularisation**")
        l2 = _url.bound(st.select_slider, "L2 strength", [0.0, 1e-4, 1e-3, 1e-2, 1e-1],
                        ref["l2"], key="l2", format_func=lambda v: f"{v:g}")
        dropout = _url.bound(st.select_slider, "Dropout", [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
                             ref["dropout"], key="dropout")
        augment = _url.bound(st.multiselect, "Augmentation", AUGMENTATIONS, ref["augment"],
                             key="augment",
                             help="Random changes to each training batch (flip: mirror, "
                                  "crop: shift by up to 4 pixels, jpeg: re-save...).")
    with c3:
        st.markdown("**Training**")
        optimizer = _url.bound(st.selectbox, "Optimizer", OPTIMIZERS,
                               OPTIMIZERS.index(ref["optimizer"]), key="optimizer")
        lr = _url.bound(st.select_slider, "Learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2],
                        ref["lr"], key="lr", format_func=lambda v: f"{v:g}")
        epochs = _url.bound(st.slider, "Epochs", 1, 20, ref["epochs"], key="epochs")
        batch = _url.bound(st.select_slider, "Batch size", [16, 32, 64, 128, 256], ref["batch"],
                           key="batch")
        n_train = _url.bound(st.select_slider, "Training images", sizes, ref["images"],
                             key="images",
                             format_func=lambda n: f"{n:,}" + (" (all)" if n == pool else ""))
        size = _url.bound(st.select_slider, "Image size (pixels)", image_sizes, ref["size"],
                          key="size")
    try:
        knobs = Knobs(conv_blocks=conv, filters=filters, dense_layers=dense, neurons=neurons,
                      l2=l2, dropout=dropout)
        settings = TrainSettings(epochs=epochs, batch_size=batch, optimizer=optimizer,
                                 learning_rate=lr, augment=tuple(augment), n_train=n_train,
                                 size=size)
    except ValueError as exc:
        st.error(str(exc), icon=":material/error:")
        return None
    return knobs, settings


@st.fragment(run_every=2.0)
def live_panel() -> None:
    """The active run's queue position or live chart; reruns the page when it ends."""
    run = active_run()
    if run is None or run.finished:
        st.rerun()
    run.heartbeat()
    st.markdown(f"**Run {run.id}**: {run.label}")
    if run.state == "queued":
        position = runner().queue_position(run)
        st.info(f"Waiting for the trainer: this server trains one model at a time. Your place "
                f"in the queue: **{position or 1}**.", icon=":material/hourglass_top:")
        if st.button("Cancel", key=f"tl_cancel_{run.id}"):
            run.stop()
        return
    latest = run.latest()
    if latest is None:
        st.info("Preparing the images and building the model…", icon=":material/build:")
        return
    fraction = latest["step"] / latest["steps"]
    st.progress(fraction, text=f"Epoch {latest['epoch']} of {run.settings.epochs} · batch "
                               f"{latest['step']:,} of {latest['steps']:,} · about "
                               f"{latest['eta']:.0f} s left")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Training loss", f"{latest['loss']:.3f}")
    c2.metric("Training accuracy", percent(latest["accuracy"]))
    c3.metric("Validation loss", "–" if latest["val_loss"] is None else f"{latest['val_loss']:.3f}")
    c4.metric("Validation accuracy", percent(latest["val_accuracy"]))
    st.plotly_chart(training_figures.progress_figure(run.events), key=f"tl_live_{run.id}")
    if st.button("Stop", key=f"tl_stop_{run.id}", icon=":material/stop:", type="primary",
                 help="Ends training now and keeps the weights of the best validation check."):
        run.stop()
    st.caption(f"Training accuracy and loss: running mean of the current epoch; validation: "
               f"{run.split_info['n_val']:,} held-out images, checked four times an epoch. "
               f"Leaving this page or closing the tab stops the run within "
               f"{HEARTBEAT_TIMEOUT:.0f} s.")


def result_panel(run: Run, dataset) -> None:
    result = run.result
    info = run.split_info
    how = {"done": "finished", "stopped": "stopped early (best weights kept)"}[run.state]
    st.markdown(f"**Run {run.id}** {how}: {run.label}; {info['n_train']:,} training images, "
                f"{result['epochs_run']} epoch(s) in {result['seconds']:.0f} s.")
    c1, c2, c3 = st.columns(3)
    c1.metric("Test accuracy", percent(result["test_accuracy"]))
    c2.metric("Test AUROC", "–" if result["test_auroc"] is None else f"{result['test_auroc']:.3f}")
    c3.metric("Validation accuracy (best check)", percent(result["val_accuracy"]))
    st.caption(f"Test: a stratified sample of **{result['n_test']:,}** of the "
               f"{info['n_leakfree_test']:,} leak-free test images (no copy of them is in the "
               "training split), called FAKE when P(FAKE) ≥ 0.5. Saving the run scores it on the "
               "whole test set with a calibrated threshold, like every shipped model.")
    left, right = st.columns([1, 2])
    left.plotly_chart(comparison_figures.confusion_matrix_figure(
        result["confusion"], "Confusion matrix", height=280), key=f"tl_cm_{run.id}")
    with right:
        st.markdown("**Grad-CAM**: where the last convolution found evidence for FAKE.")
        cols = st.columns(len(result["gradcam"]) or 1)
        for col, item in zip(cols, result["gradcam"]):
            col.image(enlarge(overlay(item["image"], item["heat"]), 4),
                      caption=f"{LABELS[item['label']]} · P(FAKE) {item['p_fake']:.2f}")
    with st.form(f"tl_save_{run.id}"):
        name = st.text_input("Save this run as a model named", placeholder="my_cnn",
                             help="Lower-case letters, digits, '-' and '_'. An existing model is "
                                  "never replaced.")
        if st.form_submit_button("Save as model", icon=":material/save:"):
            problem = name_problem(name.strip())
            if problem:
                st.error(f"Not saved: {problem}.", icon=":material/error:")
            else:
                with st.spinner("Saving and evaluating on the whole test set…"):
                    try:
                        report = save_run(run, name.strip(), dataset)
                    except (OSError, ValueError) as exc:
                        st.error(f"Not saved: {exc}", icon=":material/error:")
                    else:
                        st.success(
                            f"Saved as `models/{name.strip()}.keras`: test accuracy "
                            f"{percent(report['metrics']['test']['at_threshold']['accuracy'])} "
                            "on the whole test set. It is now listed on every page.",
                            icon=":material/check_circle:")


def runs_table() -> None:
    rows = [{"model": f"run {r.id} (this browser tab)", "settings": r.label,
             "training images": (r.split_info or {}).get("n_train"),
             "state": r.state if r.finished else "in progress (above)",
             "test accuracy %": None if not r.result else round(100 * r.result["test_accuracy"], 1),
             "test AUROC": None if not r.result else r.result["test_auroc"],
             "seconds": None if not r.result else r.result["seconds"]} for r in runs()]
    board = _model_cache.lab_report("leaderboard.json") or []
    n_train = {r["name"]: r.get("split", {}).get("n_train") for r in _model_cache.model_reports()}
    rows += [{"model": row["name"], "settings": f"shipped {row['family']}",
              "training images": n_train.get(row["name"]), "state": "shipped",
              "test accuracy %": round(100 * row["leakfree_accuracy"], 1),
              "test AUROC": row.get("leakfree_auroc"), "seconds": row.get("train_seconds")}
             for row in board]
    st.markdown("**Runs of this browser session beside the shipped models**")
    st.dataframe(pd.DataFrame(rows), hide_index=True,
                 column_config={"test AUROC": st.column_config.NumberColumn(format="%.3f"),
                                "seconds": st.column_config.NumberColumn(format="%.0f")})
    st.caption("Session runs: a stratified sample of the leak-free test set at P(FAKE) ≥ 0.5; "
               "shipped models: the whole leak-free test set at their validation-chosen "
               "threshold, trained on the whole training split (often on a GPU).")


with tab_train:
    if _data.source()[0] is None:
        _widgets.get_data_panel()
    else:
        dataset = _data.decoded_dataset()
        if dataset is not None:
            pool = train_pool(dataset)
            chosen = knob_panel(pool, dataset.size)
            current = active_run()
            if st.button("Start", type="primary", icon=":material/play_arrow:",
                         disabled=chosen is None or current is not None,
                         help="Trains in the background of this browser session."):
                runs().append(runner().start(*chosen, dataset))
                current = active_run()
            if current is not None:
                live_panel()
            finished = [r for r in runs() if r.finished]
            if finished:
                last = finished[-1]
                if last.state in ("done", "stopped"):
                    with st.container(border=True):
                        result_panel(last, dataset)
                elif last.state == "failed":
                    st.error(f"Run {last.id} failed: {last.error}", icon=":material/error:")
                else:
                    st.warning(f"Run {last.id} was cancelled before it started.")
            runs_table()


# ---------------------------------------------------------------- sweeps

sweeps = _model_cache.lab_report("sweeps.json") or {}

with tab_sweeps:
    section = sweeps.get("cnn")
    if not section or not section.get("points", {}).get("architecture"):
        st.info("No CNN sweep yet: run `python -m core sweep cnn` (writes `models/sweeps.json`).")
    else:
        split = section["split"]
        st.markdown(
            f"The reference study varied the number of convolutional and dense layers and "
            f"neurons, then L2 and dropout on its best CNN. We repeated it on the real CIFAKE: "
            f"every model trained on the same **{split['n_train']:,}** training images for up "
            f"to {section['plan']['epochs']} epochs (best validation epoch kept, "
            f"{split['n_val']:,} validation images), tested on the **{split['n_test']:,}** "
            f"leak-free test images at P(FAKE) ≥ 0.5; the architectures with seed 0, L2 and "
            f"dropout with {section['plan']['seeds']} seeds each.")
        arch = section["points"]["architecture"]
        best = max(arch, key=lambda p: p["test_accuracy"])
        worst = min(arch, key=lambda p: p["test_accuracy"])
        st.plotly_chart(training_figures.architecture_figure(section), key="tl_arch")
        st.markdown(
            f"**What it shows:** the architecture matters: our best basic CNN "
            f"({best['label']}) reached {percent(best['test_accuracy'])} and the worst "
            f"({worst['label']}) {percent(worst['test_accuracy'])}; the reference study's best "
            "was above 89 % and its worst below 81 %, with full training runs.")
        for experiment, finding in (("l2", "L2"), ("dropout", "dropout")):
            points = sorted(section["points"].get(experiment, []),
                            key=lambda p: p["knobs"][experiment])
            if len(points) < 2:
                continue
            st.plotly_chart(training_figures.regularisation_figure(section, experiment),
                            key=f"tl_chart_{experiment}")
            text = ", ".join(f"{p['knobs'][experiment]:g}: {percent(p['test_accuracy'])} "
                             f"(± {100 * p['test_accuracy_std']:.1f})" for p in points)
            st.markdown(f"**What it shows:** test accuracy by {finding} ({text}); "
                        f"reference study: {section['reference'][experiment]}.")
        st.caption(f"Reproduce with `{section['command']}` ({len(section['runs'])} runs, "
                   f"{sum(r['seconds'] for r in section['runs']) / 60:.0f} min of training on "
                   f"{section['hardware']}). "
                   "The spread is the standard deviation over seeds.")
        with st.expander("Every run"):
            st.dataframe(pd.DataFrame([{
                "settings": r["label"], "seed": r["seed"], "parameters": r["params"],
                "validation %": round(100 * r["val_accuracy"], 2),
                "test %": round(100 * r["test_accuracy"], 2), "AUROC": r["test_auroc"],
                "epochs": r["epochs_run"], "seconds": r["seconds"],
                "experiments": ", ".join(r["experiments"])} for r in section["runs"]]),
                hide_index=True)

with tab_curves:
    section = sweeps.get("curves")
    if not section or not section.get("runs"):
        st.info("No learning curves yet: run `python -m core sweep curves` "
                "(writes `models/sweeps.json`).")
    else:
        st.markdown(
            f"How much data does the task need? Each line is one architecture trained on shares "
            f"of the **{section['n_train_pool']:,}** training images, every point of a line "
            "seeing the same number of training images in all (many epochs of a small share, "
            "one of a large one), so a line compares data at equal compute.")
        st.plotly_chart(training_figures.curves_figure(section), key="tl_curves")
        shipped = {r["model"]: r for r in section.get("shipped", [])}
        for model, curve in sweeps_core.curve_summary(section).items():
            name = training_figures.NAMES.get(model, model)
            points = ", ".join(
                f"{percent(r['test_accuracy'])} with {r['n_train']:,}"
                + ("" if r in curve["equal"] else
                   f" (one epoch: {r['n_train'] / r['budget']:.0f}x the images the others saw)")
                for r in curve["rows"])
            enough, star = curve["enough"], shipped.get(model)
            if enough is curve["equal"][-1]:
                finding = "every share added accuracy: more data keeps paying off at this compute."
            else:
                finding = (f"{enough['n_train']:,} images ({100 * enough['fraction']:g} % of the "
                           "training split) already come within a point of its best at equal "
                           f"compute ({percent(curve['best']['test_accuracy'])}); beyond that, "
                           "at this compute, more images barely help")
                finding += (f", while training far longer on all of them ({star['epochs']} "
                            f"epochs, the shipped model) reaches {percent(star['test_accuracy'])}."
                            if star else ".")
            st.markdown(f"**{name}:** {points} images. **What it shows:** {finding}")
        st.caption(
            "Lines: measured here with the same quick recipe (Adam, learning rate 0.001, batch "
            "64, the best validation epoch kept, stopping after 10 epochs without a better "
            "validation loss), tested on the leak-free test set at P(FAKE) ≥ 0.5. Stars: "
            "the shipped models, trained on the whole training split with their own recipes "
            "(the flagship on a GPU), not re-measured here. Reproduce with "
            f"`{section['command']}`.")
        st.dataframe(pd.DataFrame([{
            "model": r["model"], "share of train": f"{100 * r['fraction']:g} %",
            "training images": r["n_train"], "epochs": r.get("epochs_run", r["epochs"]),
            "test %": round(100 * r["test_accuracy"], 2), "AUROC": r["test_auroc"],
            "seconds": r.get("seconds"),
            "measured": "here" if "seconds" in r else r.get("hardware")}
            for r in [*section["runs"], *section.get("shipped", [])]]), hide_index=True)
