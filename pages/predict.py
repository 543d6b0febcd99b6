"""Check an image: every model's verdict on an uploaded, camera or random test image (or an
abstention when the input is unlike the training images), what the models see, heat maps of why,
and whether the verdicts survive harmless changes."""

import streamlit as st

from core.data.imageio import CIFAKE_JPEG_QUALITY, enlarge, png_bytes
from core.data.sources import CLASS_NAMES, LABELS, read_member
from core.detect import ood, verdict_figures
from core.detect.detector import (
    ENSEMBLE,
    FLAGSHIP,
    INCONCLUSIVE_BAND,
    VIEWS,
    prepare,
    tta_helps,
    verdict,
)
from core.detect.explain import COLORMAPS, METHODS, overlay
from pages import _data, _inside_view, _model_cache, _router, _url, _widgets

_router.ensure_router()

UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif"]
CAVEAT = (
    "**What the models learned from:** 32x32 CIFAR-10 photos (REAL) and Stable Diffusion 1.4 "
    "renderings of the same ten classes (FAKE), every one a JPEG at quality 75. Verdicts on "
    "images from other generators, with other content, or on large photos are unreliable: "
    "detectors trained on one generator often score other generators' images as real."
)

st.title("Check an image")
st.markdown("Give the models an image and see what each one says, whether the image is like "
            "the ones they learned from, what they looked at, and whether the verdict survives "
            "harmless changes.")
detector = _model_cache.detector()
if detector is None:
    st.stop()

# ---------------------------------------------------------------- input

origin = _url.bound(st.segmented_control, "Image from", ["Upload", "Camera", "Random test image"],
                    default="Upload", key="origin") or "Upload"
candidates: list[tuple[str, bytes]] = []
truth = None
if origin == "Upload":
    files = st.file_uploader(
        "Images (JPEG, PNG, WebP, BMP, TIFF, GIF)", type=UPLOAD_TYPES,
        accept_multiple_files=True, key="check_upload",
        help="Files stay in memory; nothing is saved. For many files or a zip, use Batch scan.")
    candidates = [(f.name, f.getvalue()) for f in files or []]
elif origin == "Camera":
    shot = st.camera_input("Take a picture", key="check_camera")
    if shot is not None:
        candidates = [("camera.jpg", shot.getvalue())]
else:
    dataset = _data.image_index()  # the committed CIFAKE is read file by file, nothing decoded
    if dataset is None:
        _widgets.get_data_panel()
        st.stop()
    row = _data.random_test_row(dataset, key="image")
    if row is None:
        st.stop()
    try:
        candidates = [(dataset.paths[row], read_member(dataset.source, dataset.paths[row]))]
    except OSError as exc:
        st.error(_widgets.escape_markdown(str(exc)))
        st.stop()
    truth = (LABELS[dataset.labels[row]], CLASS_NAMES[dataset.classes[row]])

if not candidates:
    st.info("Upload an image, take a picture, or pick a random test image.",
            icon=":material/upload:")
    st.stop()

readable = []
for name, data in candidates:
    image, info, problem = _data.decoded(data)
    if image is None:
        st.error(_widgets.escape_markdown(f"{name}: {problem}"), icon=":material/broken_image:")
    else:
        readable.append((name, data, image, info))
if not readable:
    st.stop()
if len(readable) > 1:
    index = st.selectbox("Image to inspect", range(len(readable)),
                         format_func=lambda i: readable[i][0], key="check_pick")
else:
    index = 0
name, data, image, info = readable[index]

# ---------------------------------------------------------------- what the model sees

st.subheader("What the models see")
size = detector.size
view = _url.bound(st.segmented_control, "Preprocessing", list(VIEWS),
                  format_func=VIEWS.get, default="resize", key="view") or "resize"
x = prepare(image, size, view)
left, middle, right = st.columns([2, 1, 2])
left.image(enlarge(image, max(1, 192 // max(image.shape[:2]))),
           caption=f"Original: {info.width}x{info.height} {info.format}",
           width="stretch" if image.shape[1] > 256 else "content")
middle.image(enlarge(x, max(1, 192 // size)),
             caption=f"The exact {size}x{size} input (enlarged, nearest-neighbour)")
with right:
    quality = (f"estimated quality **{info.jpeg_quality}**"
               + ("" if info.jpeg_quality_exact else " (non-standard tables)")
               if info.jpeg_quality else "")
    st.markdown(f"**File:** {_widgets.escape_markdown(name)}  \n"
                f"**Format:** {info.format}{', ' + quality if quality else ''}; "
                f"{info.mode}, {info.width}x{info.height}"
                + (f", {info.frames} frames (the first is used)" if info.frames > 1 else "")
                + f"  \n**CIFAKE:** JPEG, quality {CIFAKE_JPEG_QUALITY}, 32x32")
    if (info.format, info.jpeg_quality, info.width, info.height) != ("JPEG", CIFAKE_JPEG_QUALITY,
                                                                     size, size):
        st.caption(":material/info: This file differs from the training images in format, "
                   "quality or size; such differences alone can bias a detector's verdict.")

# ---------------------------------------------------------------- verdicts

st.subheader("Verdicts")
band = _url.bound(st.slider, "Inconclusive band (± around each model's threshold)", 0.0, 0.3,
                  INCONCLUSIVE_BAND, 0.01, key="band",
                 help="A P(FAKE) this close to the model's validation-chosen threshold is "
                      "reported as inconclusive.")
flagship = next((r for r in _model_cache.model_reports() if r["name"] == FLAGSHIP), {})
tta = flagship.get("tta") if FLAGSHIP in detector.names else None
if tta:
    over = "the mirror image" if tta["candidate"] == "mirror" else tta["description"]
    use_tta = _url.bound(
        st.toggle, f"Average over {over} (test-time augmentation)", value=tta_helps(flagship),
        key="tta",
        help="The mean of the flagship's P(FAKE) over harmless copies it was trained with, "
             "calibrated and thresholded on validation images like its plain score. On by "
             "default when it raised the flagship's validation accuracy.")
    if use_tta:
        detector = _model_cache.detector(tta=(FLAGSHIP,)) or st.stop()
    plain_p, tta_p = _model_cache.with_and_without_tta(detector, x, FLAGSHIP)
    st.caption(
        f"{FLAGSHIP}: P(FAKE) **{tta_p:.3f}** averaged over {tta['description']} "
        f"(threshold {tta['threshold']:.3f}), **{plain_p:.3f}** from the image alone "
        f"(threshold {flagship['threshold']:.3f}); "
        f"{'the averaged score is used' if use_tta else 'the plain score is used'}. On "
        f"validation images the averaging gave {100 * tta['validation']['accuracy']:.2f} % "
        f"accuracy against {100 * tta['plain_validation_accuracy']:.2f} % (test: "
        f"{100 * tta['metrics']['test']['at_threshold']['accuracy']:.2f} % against "
        f"{100 * flagship['metrics']['test']['at_threshold']['accuracy']:.2f} %).")
result = _model_cache.stability_of(detector, x)  # the verdicts and the stability check below
scores = result.original
frame = verdict_figures.scores_frame(scores, detector, band=band)
ensemble_row = frame[frame["model"] == ENSEMBLE].iloc[0]
gaussian, ood_ratio = _model_cache.ood_ratio(detector, x)
outside = ood.judge(info, ood_ratio, gaussian)
models_say = (f"P(FAKE) {ensemble_row['P(FAKE)']:.3f}, the mean of "
              f"{', '.join(detector.ensemble)} (decided at "
              f"{detector.threshold(ENSEMBLE):g})")
if outside.flagged:
    st.markdown(f"### Ensemble verdict: :gray[{ood.INCONCLUSIVE}]  \n"
                f"The models would say {ensemble_row['verdict']} ({models_say}), but this "
                "input is unlike the images they learned from.")
    st.error(_widgets.escape_markdown("Why: " + outside.reason), icon=":material/explore_off:")
else:
    colour = {"FAKE": "red", "REAL": "blue", "inconclusive": "gray"}[ensemble_row["verdict"]]
    st.markdown(f"### Ensemble verdict: :{colour}[{ensemble_row['verdict']}]  \n{models_say}.")
if outside.ratio is None:
    st.caption("Off-distribution ratio: no model with a fitted feature distribution is loaded "
               "(`python -m core ood`); only the file rules (size, format, quality) apply.")
else:
    st.caption(f"Off-distribution ratio **{outside.ratio:.2f}** (the distance of the "
               f"{gaussian.model}'s features to its training images, divided by the cut-off "
               f"{gaussian.cutoff:.1f} that at most {ood.FLAG_RATE:.0%} of validation images "
               "exceed; above 1 is outside what the models learned).")
st.warning(CAVEAT, icon=":material/warning:")
if truth is not None:
    right = (ensemble_row["verdict"] == truth[0])
    (st.success if right else st.error)(
        f"True label: **{truth[0]}** ({truth[1]}). The ensemble was "
        f"{'right' if right else 'not right'}.", icon=":material/fact_check:")
st.plotly_chart(verdict_figures.scores_figure(frame, band=band), key="check_scores")
st.caption("Bars: each model's P(FAKE), coloured by its verdict. Black tick: the model's "
           "threshold, chosen on validation images; grey span: the inconclusive band.")

if min(image.shape[:2]) >= 2 * size:
    with st.expander("Tiled analysis (large image)", expanded=True):
        grid = _url.bound(st.slider, "Grid (regions per side)", 2, 8, 4, key="grid")
        tiles = _model_cache.tile_scores(detector, image, grid)
        st.plotly_chart(verdict_figures.tiles_figure(image, tiles), key="check_tiles")
        st.markdown(f"Each region is resized to {size}x{size} and scored by the ensemble. "
                    f"Mean P(FAKE) over regions **{tiles.mean:.3f}**; "
                    f"**{tiles.n_fake} of {len(tiles.boxes)}** regions FAKE.")

# ---------------------------------------------------------------- explanations

st.subheader("Why: heat maps")
cnns = [n for n in detector.names if detector.families.get(n) != "classical"]
if not cnns:
    st.info("Heat maps need a CNN; none is loaded.")
else:
    c1, c2, c3 = st.columns(3)
    model_name = _url.bound(c1.selectbox, "Model", cnns, key="model")
    sha = detector.predictors[model_name].sha256
    tools = _model_cache.explainer(model_name, sha)
    layer = _url.bound(c2.selectbox, "Layer", tools.layers,
                       index=tools.layers.index(tools.default_layer), key="layer",
                         help="The last convolution (default) shows where the evidence is; an "
                              "earlier layer gives finer, noisier maps.")
    # the side of the threshold the model's score is on (no inconclusive band)
    model_verdict = verdict(float(scores[model_name][0]), detector.threshold(model_name),
                            band=0.0)
    target = c3.segmented_control("Evidence for", ["FAKE", "REAL"], default=model_verdict,
                                  key=f"check_cam_target_{name}_{model_name}") or model_verdict
    c4, c5, c6 = st.columns(3)
    methods = _url.bound(c4.multiselect, "Methods", METHODS, default=list(METHODS[:2]),
                         key="methods")
    opacity = _url.bound(c5.slider, "Overlay opacity", 0.0, 1.0, 0.5, 0.05, key="opacity")
    colormap = _url.bound(c6.selectbox, "Colour map", list(COLORMAPS), key="colormap")
    big = enlarge(x, max(1, 256 // size))
    columns = st.columns(max(len(methods), 1))
    for column, method in zip(columns, methods):
        heat = _model_cache.heatmap(x, model_name, sha, method, layer, target, tools)
        shown = overlay(big, heat, opacity=opacity, colormap=colormap)
        column.image(shown, caption=f"{method} · {model_name} · evidence for {target}")
        column.download_button("Download PNG", png_bytes(shown), mime="image/png",
                               file_name=f"{method.split()[0].lower()}-{model_name}.png",
                               key=f"check_download_{method}")
    st.caption(
        "Warm colours mark the pixels whose change would most move the model's score towards "
        f"{target}. A heat map shows where the model looked, not what it found there, and not "
        "that the image is real or fake; Grad-CAM maps are coarse (one cell per feature-map "
        "position), SmoothGrad shows single pixels.")
    st.page_link("pages/inside.py", label="Open this image inside the CNN",
                 icon=":material/layers:", query_params=_inside_view.link_params(
                     model_name, path=dataset.paths[row] if truth else None, upload=(name, data)))

# ---------------------------------------------------------------- stability

st.subheader("Stability check")
st.markdown("The same input mirrored, re-saved as a high-quality JPEG and shifted by one "
            "pixel: changes the models saw in training or that barely alter a 32x32 image. A "
            "verdict that flips under such harmless changes should not be trusted.")
for column, (check, copies) in zip(st.columns(len(result.inputs)), result.inputs.items()):
    column.image(enlarge(copies[0], max(1, 96 // size)), caption=check)
table = verdict_figures.stability_frame(result, detector)
if not result.stable:
    flipped = "; ".join(f"{name}: {', '.join(result.flipped_by(name))}"
                        for name in [*detector.names, ENSEMBLE] if result.flipped_by(name))
    st.error(f"**Unstable:** the ensemble verdict flips under at least one change "
             f"(flipped: {flipped}).", icon=":material/sync_problem:")
else:
    st.success("The ensemble verdict holds under every change.", icon=":material/verified:")
st.dataframe(table, hide_index=True, height=36 * (len(table) + 1) + 4, column_config={
    c: st.column_config.NumberColumn(c, format="%.3f") for c in ["original", *result.degraded]})
st.caption("P(FAKE) of each model for the original input and each changed copy; "
           "\"flipped by\" names the changes that move the model across its threshold.")
