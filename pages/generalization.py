"""Generalization lab: the project's own generators, how detectors fare on fakes from
generators they never saw (the cross-generator matrix), the generalist against the specialist,
and a fake made on the spot."""

import numpy as np
import pandas as pd
import streamlit as st

from core.data.imageio import decode_image, enlarge, tile
from core.data.sources import LABELS
from core.detect import verdict_figures
from core.labs import generalization, lab_figures
from core.models.artifacts import read_report
from core.models.fake_sources import SOURCES
from core.models.generators import GENERATORS, GENERATORS_DIR, load_generator
from pages import _data, _model_cache, _router, _url, _widgets

_router.ensure_router()

st.title("Generalization lab")
st.markdown(
    "Every detector here learned one generator: Stable Diffusion 1.4, the FAKE half of CIFAKE. "
    "A newsroom meets fakes from many others. This page trains detectors on some generators, "
    "tests them on others, and shows how far a detector's skill carries to a generator it "
    "never saw. The other generators are our own: a **GAN** and a **VAE** (autoencoder) "
    "trained here on CIFAKE's REAL training photos only."
)

report = _model_cache.lab_report(generalization.REPORT)


@st.cache_resource(show_spinner="Loading generator…", max_entries=4)
def _load_generator(name: str, sha: str):
    return load_generator(name)


def generator(name: str):
    """A committed generator, loaded once per file version; None, with the reason shown, when
    its file cannot be loaded."""
    try:
        return _load_generator(name, zoo[name]["sha256"])
    except (OSError, ValueError) as exc:
        st.error(_widgets.escape_markdown(f"The {name} generator cannot be loaded: {exc}"),
                 icon=":material/error:")
        return None


def generator_reports() -> dict[str, dict]:
    """The committed generators' reports, by name."""
    out = {}
    for name in GENERATORS:
        try:
            out[name] = read_report(name, GENERATORS_DIR)
        except FileNotFoundError:
            continue
    return out


zoo = generator_reports()


def generators_tab():
    columns = st.columns(3)
    with columns[0]:
        st.markdown(f"**sd14**: {SOURCES['sd14'].title}")
        index = _data.image_index()
        if index is None:
            st.caption("CIFAKE's FAKE images need the dataset:")
            _widgets.get_data_panel()
        else:
            rows = index.sample(32, seed=0, split=1, label=LABELS.index("FAKE"))
            st.image(enlarge(tile(_data.images(index, rows), 8), max(1, 64 // _data.image_size())),
                     caption=f"{len(rows)} test FAKE images of the dataset", width="stretch")
    for column, name in zip(columns[1:], GENERATORS):
        with column:
            st.markdown(f"**{name}**: {SOURCES[name].title}")
            if name not in zoo:
                st.info(f"Not trained yet: `python -m core generator train {name}`.")
                continue
            preview = GENERATORS_DIR / f"{name}_preview.png"
            caption = ("32 samples, seed 0" if name == "gan" else
                       "32 decoder images from random codes (its fakes on this page are "
                       "reconstructions of REAL photos, which need the dataset)")
            if preview.exists():
                st.image(enlarge(decode_image(preview.read_bytes()), 2), caption=caption,
                         width="stretch")
    if zoo:
        table = pd.DataFrame([{
            "generator": name, "kind": r["kind"], "parameters": r["params"],
            "file MB": r["file_mb"], "trained on": f"{r['data']['n_train']:,} REAL train images",
            "epochs": r["training"]["epochs"], "training time (s)": r["training"]["seconds"],
            "images/s": r["training"]["images_per_second"],
        } for name, r in zoo.items()])
        st.dataframe(table, hide_index=True)
    if report is not None:
        frechet = report["frechet"]
        st.markdown("**How close each source is to REAL photos** (Fréchet distance to 2,000 "
                    "CIFAKE test REAL images; lower is closer)")
        st.dataframe(pd.DataFrame([{"source": k, "Fréchet distance": v}
                                   for k, v in frechet.items() if k != "features"]),
                     hide_index=True)
        st.caption(f"Computed in the features of the {frechet['features']}. \"REAL train\" is "
                   "real photos against real photos: the floor. The flagship learned to pull "
                   "sd14 away from REAL, so sd14 is far in its features by construction; a "
                   "source close to REAL here is one the flagship's features barely tell "
                   "apart from photos. Reproduce with `python -m core generalize`.")
    if "vae" in zoo and index is not None and _data.image_size() == 32:
        st.markdown("**Fakes with real content**: REAL test photos (top) and the VAE's "
                    "reconstructions of them (bottom), JPEG q75 like CIFAKE.")
        vae = generator("vae")
        if vae is not None:
            real = _data.images(index, index.sample(8, seed=0, split=1,
                                                    label=LABELS.index("REAL")))
            rebuilt = vae.sample(len(real), seed=0, images=real)
            st.image(enlarge(tile(np.concatenate([real, rebuilt]), 8), 3))


def matrix_tab():
    if report is None:
        st.info("No matrix yet: run `python -m core generalize` (writes "
                "`models/generalization.json`).")
    else:
        setup = report["setup"]
        metric = _url.bound(st.segmented_control, "Metric", ["auroc", "accuracy"],
                            default="auroc",
                            format_func={"auroc": "AUROC", "accuracy": "Accuracy"}.get,
                            key="metric") or "auroc"
        st.plotly_chart(lab_figures.generalization_figure(report, metric), key="gen_matrix")
        for sentence in generalization.reading(report):
            st.markdown(f"- {sentence}")
        st.caption(
            f"Each row: a fresh `{setup['architecture']}` trained with the same seed on "
            f"{setup['n_train']:,} images (half CIFAKE train REAL, half fakes split equally among "
            f"the row's sources) for {setup['epochs']} epochs. Each column: "
            f"{setup['n_test_each']:,} CIFAKE leak-free test REAL against {setup['n_test_each']:,} "
            "held-out fakes of that source. \"·unseen\" marks generators the row never saw. "
            "Accuracy is at P(FAKE) 0.5. Reproduce with `python -m core generalize`.")


def models_tab():
    if report is None:
        st.info("Run `python -m core generalize` first.")
    else:
        shipped = report["shipped"]
        names = list(shipped)
        default = [n for n in ("scanner", "flagship", "generalist", "generalist_novae")
                   if n in names] or names[:4]
        chosen = _url.bound(st.multiselect, "Models", names, default=default, key="models")
        if chosen:
            st.plotly_chart(lab_figures.shipped_sources_figure(report, chosen), key="gen_bars")
        st.dataframe(pd.DataFrame([{
            "model": n, "learned": " + ".join(["sd14", *shipped[n]["extra_fakes"]]),
            **{f"AUROC {s}": shipped[n]["tests"][s]["auroc"] for s in report["sources"]},
            **{f"fakes caught {s} (%)": round(100 * shipped[n]["tests"][s]["fake_recall"], 1)
               for s in report["sources"]},
        } for n in names]), hide_index=True)
        st.caption("Every shipped model on the same test images as the matrix. \"Fakes caught\" "
                   "is the share of a source's fakes at or above the model's own threshold: even "
                   "where a CIFAKE-only model ranks our fakes above REAL (AUROC), its threshold, "
                   "set for Stable Diffusion, lets most of them through. Each generalist learned "
                   "sd14 and one of our generators (\"learned\"), with blur and JPEG "
                   "augmentation, and never saw the other: compare its AUROC there with the "
                   "specialists'.")
        if report.get("ood"):
            st.markdown("**Does the off-distribution score notice an unseen generator?**")
            st.dataframe(pd.DataFrame([{
                "features of": model,
                "flagged: CIFAKE test REAL (%)": round(100 * entry["REAL test"], 1),
                **{f"flagged: {s} (%)": round(100 * entry[s]["flag_rate"], 1)
                   for s in report["sources"]},
                **{f"AUROC REAL vs {s}": entry[s]["auroc_vs_real"] for s in report["sources"]},
            } for model, entry in report["ood"].items()]), hide_index=True)
            st.caption("The share of each source's images whose learned off-distribution score "
                       "is above its cut-off (about 5 % of validation images are), and how well "
                       "that score alone separates CIFAKE test REAL from the source. A flagged "
                       "image gets \"inconclusive: outside what the models learned\" on Check an "
                       "image instead of a confident verdict.")


def fake_now_tab():
    if "gan" not in zoo:
        st.info("The GAN is not trained yet: `python -m core generator train gan`.")
    else:
        detector = _model_cache.detector()
        c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
        seed = _url.get_int("seed", 2**31 - 1)
        if c1.button("Generate a fake", icon=":material/casino:", key="gen_now"):
            seed = int(np.random.default_rng().integers(0, 2**31 - 1))
            _url.put("seed", seed)
        if seed is None:
            c2.caption("Press the button: our GAN draws one new 32x32 image (saved as JPEG q75, "
                       "like CIFAKE) and every model judges it.")
        elif detector is not None and (gan := generator("gan")) is not None:
            image = gan.sample(1, seed=seed)[0]
            c2.caption(f"Seed {seed}: `python -m core generator sample gan --n 1 --seed {seed} "
                       "--out DIR` makes the same image again.")
            left, right = st.columns([1, 2])
            left.image(enlarge(image, 8), caption="A fake from our GAN (never seen by the "
                                                  "CIFAKE-trained models)")
            scores = detector.score(image[None])
            frame = verdict_figures.scores_frame(scores, detector)
            right.plotly_chart(verdict_figures.scores_figure(frame), key="gen_scores")
            caught = int((frame["verdict"] == "FAKE").sum())
            right.markdown(f"**{caught} of {len(frame)}** verdicts say FAKE (the last row is the "
                           "ensemble).")
            gaussian, ratio = _model_cache.ood_ratio(detector, image)
            if ratio is not None:
                flagged = ratio > 1
                left.markdown(
                    f"Off-distribution ratio ({gaussian.model}'s features): **{ratio:.2f}** "
                    + ("— above 1, so Check an image would answer *inconclusive: outside what "
                       "the models learned*." if flagged else
                       "— at most 1: the image looks like what the models learned, so their "
                       "verdicts are not withheld."))
            cnns = [n for n in detector.names if detector.families.get(n) != "classical"]
            if cnns:
                from core.detect.explain import overlay

                name = _url.bound(st.selectbox, "Heat map of", cnns, key="heatmap",
                                  index=cnns.index("flagship") if "flagship" in cnns else 0)
                sha = detector.predictors[name].sha256
                tools = _model_cache.explainer(name, sha)
                heat = _model_cache.heatmap(image, name, sha, "Grad-CAM", tools.default_layer,
                                            "FAKE", tools)
                st.image(overlay(enlarge(image, 8), heat), width=256,
                         caption=f"Grad-CAM of {name}: where its evidence for FAKE is")


# only the open tab runs (on_change="rerun"): the models load when a tab needs them
TABS = {"Generators": generators_tab, "Cross-generator matrix": matrix_tab,
        "Generalist vs specialist": models_tab, "Generate a fake now": fake_now_tab}
for tab, section in zip(_url.bound(st.tabs, list(TABS), key="tab", on_change="rerun"),
                        TABS.values()):
    if tab.open:
        with tab:
            section()
