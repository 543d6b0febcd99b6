"""Inside the CNN as a view any page can show with its own settings: the model, the image (a
test image by index, an upload, or an image the caller gives), the tab, the block and the
channel. The Inside the CNN page shows it with its choices kept in the URL; a lesson step calls
``render`` with the settings of its step."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import numpy as np
import streamlit as st

from core.data.imageio import enlarge
from core.data.sources import CLASS_NAMES, LABELS
from core.detect.detector import prepare, verdict
from core.detect.inside import PARTS, Activations, Inside
from core.models.artifacts import MODELS_DIR, Predictor, list_reports, load_predictor
from pages import (
    _data,
    _inside_channels,
    _inside_convolution,
    _inside_tabs,
    _model_cache,
    _widgets,
)
from pages._inside_tabs import Keys, Opened

TABS = PARTS
SOURCES = ("Test image", "Upload")
CARRIED = "inside_carried"  # session key: (file name, bytes) handed over by Check an image
UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif"]


# ---------------------------------------------------------------- cached work

def _mtime(models_dir: Path) -> int:
    return max((p.stat().st_mtime_ns for p in models_dir.glob("*.json")), default=0)


@st.cache_data(show_spinner=False, max_entries=8)
def _cnn_reports(models_dir: str, mtime: int) -> list[dict]:
    return [r for r in list_reports(models_dir) if r.get("family") == "cnn"]


@st.cache_resource(show_spinner="Opening the model…", max_entries=8)
def opened_model(name: str, sha: str, calibration: str, models_dir: str
                 ) -> tuple[Predictor, Inside]:
    """A CNN loaded once per process, file version and calibration (a re-evaluated model keeps
    its file), with its multi-output model; a shipped model is the one the other pages use."""
    predictor = (_model_cache.predictor(name, sha) if Path(models_dir) == MODELS_DIR
                 else load_predictor(name, models_dir))
    return predictor, Inside(predictor.model, predictor.calibration)


@st.cache_data(show_spinner=False, max_entries=64)
def _activations(x: np.ndarray, name: str, version: tuple, _inside: Inside) -> Activations:
    return _inside.activations(x[None])


# ---------------------------------------------------------------- the view

def render(*, model: str | None = None, image: np.ndarray | None = None,
           index: int | None = None, tab: str | None = None, layer: str | None = None,
           channel: int | None = None, key: str = "inside", url: bool = False,
           models_dir: str | Path = MODELS_DIR) -> None:
    """Show Inside the CNN.

    Parameters
    ----------
    model : str, optional
        The CNN shown first (default: the flagship, else the first CNN).
    image : ndarray, optional
        An RGB image to look at (the caller's; no image picker is shown).
    index : int, optional
        Otherwise the test image shown first, by its position among the test images (default:
        the first FAKE one).
    tab, layer, channel : optional
        The tab (one of ``TABS``), block id and channel shown first.
    key : str
        Prefix of the widget keys (several views on one page need different ones).
    url : bool
        Keep the choices in the page's URL (bare keys: ``model``, ``image``, ``tab``,
        ``layer``, ``channel``, ``source``); only one view per page can.
    models_dir : path
        Where the models are (tests use a temporary one).
    """
    keys = Keys(key, url)
    models_dir = Path(models_dir)
    reports = {r["name"]: r for r in _cnn_reports(str(models_dir), _mtime(models_dir))}
    if not reports:
        st.info("No CNN in models/: train one (`python -m core train flagship`) or save one "
                "from the Training lab.", icon=":material/layers_clear:")
        return
    names = list(reports)
    default = model if model in reports else ("flagship" if "flagship" in reports else names[0])
    top = st.columns([4, 3, 6])
    name = _select_model(top[0], names, default, keys)
    report = reports[name]
    version = (report.get("sha256", ""), json.dumps(report.get("calibration"), sort_keys=True))
    predictor, inside = opened_model(name, *version, str(models_dir))
    picked = _pick_image(top[1], top[2], image, index, keys)
    if picked is None:
        return
    raw, truth, source_name = picked
    x = prepare(raw, predictor.size)
    acts = _activations(x, name, version, inside)
    opened = Opened(name, predictor, inside, x, acts, float(report.get("threshold", 0.5)), keys)
    _summary(opened, truth, source_name, report)
    chosen = keys.widget(st.tabs, list(TABS), name="tab", on_change="rerun",
                     default=tab if tab in TABS else None)
    for container, title in zip(chosen, TABS):
        if container.open:
            with container:
                _TAB_VIEWS[title](opened, layer, channel)


def link_params(model: str, *, path: str | None = None,
                upload: tuple[str, bytes] | None = None) -> dict[str, str]:
    """The URL parameters that open this view on ``model`` and a test image (its ``path`` in
    the dataset) or an upload; an upload is handed over in the session (never in the URL)."""
    if path is not None:
        rows = _data.image_index()
        row = int(rows.rows_of([path])[0]) if rows is not None else -1
        if row >= 0:
            return {"model": model, "image": str(int((rows.splits[:row] == 1).sum()))}
    if upload is not None:
        st.session_state[CARRIED] = upload
    return {"model": model, "source": SOURCES[1]}


def _select_model(column, names: list[str], default: str, keys: Keys) -> str:
    with column:
        return keys.widget(st.selectbox, "Model", names, index=names.index(default),
                           name="model", help="Every CNN in models/: the shipped ones and any "
                                              "saved from the Training lab.")


def _pick_image(left, right, image: np.ndarray | None, index: int | None, keys: Keys):
    """``(image, (label, class) or None, description)`` of the image to look at, or None
    (with what is missing said) when there is none yet."""
    if image is not None:
        return image, None, "the image of this step"
    rows = _data.image_index()
    with left:
        source = keys.widget(
            st.segmented_control, "Image", SOURCES, name="source",
            default=SOURCES[0] if rows is not None else SOURCES[1]) or SOURCES[0]
    if source == "Upload":
        with right:
            return _uploaded(keys)
    if rows is None:
        with right:
            st.info("Test images need the dataset; upload an image instead.",
                    icon=":material/folder_off:")
        _widgets.get_data_panel()
        return None
    test_rows = np.flatnonzero(rows.splits == 1)
    if not len(test_rows):
        right.warning("This dataset has no test images; upload an image instead.")
        return None
    fakes = np.flatnonzero(rows.labels[test_rows] == 1)
    default = index if index is not None and 0 <= index < len(test_rows) else (
        int(fakes[0]) if len(fakes) else 0)
    with right:
        number, real, fake = st.columns([5, 4, 4], vertical_alignment="bottom")
        position = keys.widget(
            number.number_input, "Test image #", 0, len(test_rows) - 1, default, name="image",
            help=f"Its position among the dataset's {len(test_rows):,} test images (0 to "
                 f"{len(test_rows) - 1:,}); a link to this view keeps it.")
        for column, label in ((real, 0), (fake, 1)):
            column.button(LABELS[label], key=keys(f"random_{label}"), icon=":material/shuffle:",
                          width="stretch", help=f"A random {LABELS[label]} test image",
                          on_click=_draw, args=(keys("image"), rows.labels, test_rows, label))
    row = int(test_rows[int(position)])
    pixels = _data.images(rows, [row])[0]
    return pixels, (LABELS[rows.labels[row]], CLASS_NAMES[rows.classes[row]]), \
        f"test image {int(position):,} ({rows.paths[row]})"


def _draw(key: str, labels: np.ndarray, test_rows: np.ndarray, label: int) -> None:
    """Put a random test image of ``label`` in the image box."""
    choices = np.flatnonzero(labels[test_rows] == label)
    if len(choices):
        st.session_state[key] = int(choices[secrets.randbelow(len(choices))])


def _uploaded(keys: Keys):
    upload = st.file_uploader("Image file", type=UPLOAD_TYPES, key=keys("upload"),
                              help="Stays in memory, never saved, never in a link.")
    if upload is not None:
        name, data = upload.name, upload.getvalue()
    elif CARRIED in st.session_state:
        name, data = st.session_state[CARRIED]
        st.caption(f"The image from Check an image: {_widgets.escape_markdown(name)}. Upload "
                   "another to replace it.")
    else:
        st.info("Upload an image. Uploads never travel in links: a shared link to an upload "
                "opens without it.", icon=":material/upload:")
        return None
    pixels, _, problem = _data.decoded(data)
    if pixels is None:
        st.error(_widgets.escape_markdown(f"{name}: {problem}"), icon=":material/broken_image:")
        return None
    return pixels, None, name


def _summary(opened: Opened, truth, source_name: str, report: dict) -> None:
    """The input as the model sees it, what the model says, and the true label if known."""
    acts = opened.acts
    p_raw, p_fake, logit = (float(acts.p_raw[0]), float(acts.p_fake[0]),
                            float(acts.logits[0]))
    says = verdict(p_fake, opened.threshold, band=0.0)
    picture, numbers = st.columns([1, 5], vertical_alignment="center")
    size = opened.x.shape[0]
    picture.image(enlarge(opened.x, max(1, 112 // size)), caption=f"the {size}x{size} input")
    with numbers:
        cells = st.columns(4)
        cells[0].metric("Final logit", f"{logit:+.3f}",
                        help="The last layer's weighted sum before the sigmoid: positive leans "
                             "FAKE, negative REAL.")
        cells[1].metric("Raw P(FAKE)", f"{p_raw:.3f}", help="sigmoid(logit): the network's "
                        "own output.")
        cells[2].metric("Calibrated P(FAKE)", f"{p_fake:.3f}",
                        help="After the calibration fitted on validation images: 0.7 means "
                             "about 70 % of such images are fake.")
        cells[3].metric("Verdict", says, help=f"FAKE at or above the threshold "
                        f"{opened.threshold:.2f} chosen on validation images.")
        known = (f"True label: **{truth[0]}** ({truth[1]}). " if truth else "")
        accuracy = (((report.get("metrics") or {}).get("test") or {}).get("at_threshold")
                    or {}).get("accuracy")
        tested = f" ({accuracy:.1%} test accuracy)" if accuracy else ""
        st.markdown(f"{_widgets.escape_markdown(source_name)}. {known}"
                    f"**{opened.name}**{tested} has {opened.inside.network.params:,} parameters "
                    f"and does {opened.inside.network.macs / 1e6:,.1f} million multiply-adds "
                    "per image.")


_TAB_VIEWS = {
    "Network": _inside_tabs.network_tab,
    "Activation maps": _inside_tabs.maps_tab,
    "Filters": _inside_tabs.filters_tab,
    "Convolution step by step": _inside_convolution.convolution_tab,
    "Top images of a channel": _inside_channels.top_images_tab,
    "Real vs fake channels": _inside_channels.separation_tab,
}
