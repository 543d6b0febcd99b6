"""The trained models for the pages: their reports and the lab reports in ``models/``, each
model loaded once per process and file version, the detector, the CNNs' embedding spaces (listed
from the reports, loaded only when used), caches of stability checks, off-distribution
scores, tile scores and heat maps keyed on the models' sha256, and the one trainer per server
that the Training lab and the lesson share."""

from __future__ import annotations

import json
from functools import partial

import numpy as np
import streamlit as st

from core.analysis.embed import Space, cnn_space
from core.detect.detector import Detector, load_detector
from core.detect.ood import Gaussian
from core.detect.stability import Stability, stability
from core.detect.tiles import TileScores, score_tiles
from core.labs.training import Runner
from core.models.artifacts import MODELS_DIR, Predictor, list_reports, load_predictor, read_json
from pages._widgets import escape_markdown

# ---------------------------------------------------------------- reports

def _models_mtime() -> int:
    return max((p.stat().st_mtime_ns for p in MODELS_DIR.glob("*.json")), default=0)


@st.cache_data(show_spinner=False, max_entries=4)
def _reports(mtime: int) -> list[dict]:
    return [r for r in list_reports() if r.get("metrics")]


def model_reports() -> list[dict]:
    """Reports of every evaluated model in models/ (re-read when a report changes)."""
    return _reports(_models_mtime())


@st.cache_data(show_spinner=False, max_entries=16)
def _json_file(name: str, mtime: int) -> dict | None:
    return read_json(name)


def test_scores() -> dict | None:
    """models/test_scores.json: every model's test P(FAKE), with labels and paths."""
    return _json_file("test_scores.json", _models_mtime())


def lab_report(file_name: str) -> dict | None:
    """A committed lab report in models/ (robustness.json, adversarial.json, filter_matrix.json)."""
    return _json_file(file_name, _models_mtime())


def pca_sweep() -> dict | None:
    """models/pca_sweep.json: logistic-regression accuracy against PCA components."""
    return _json_file("pca_sweep.json", _models_mtime())


# ---------------------------------------------------------------- loaded models

@st.cache_resource(show_spinner="Loading model…", max_entries=16)
def _predictor(name: str, sha: str, calibration: str) -> Predictor:
    return load_predictor(name)


def predictor(name: str, sha: str) -> Predictor:
    """A loaded model (once per process, file version ``sha`` and calibrations in its report:
    re-evaluating a model re-fits its calibration and test-time augmentation without changing
    its file)."""
    report = next((r for r in model_reports() if r["name"] == name), {})
    return _predictor(name, sha, json.dumps([report.get("calibration"), report.get("tta")],
                                            sort_keys=True))


def detector(names: tuple[str, ...] | None = None,
             ensemble: tuple[str, ...] | None = None,
             tta: tuple[str, ...] = ()) -> Detector | None:
    """The evaluated models (all, or ``names``) with their thresholds and ensemble, those in
    ``tta`` with their test-time augmentation, each model loaded once per process; None, with
    the reason shown, when there are none."""
    sha = {r["name"]: r.get("sha256", "") for r in model_reports()}
    try:
        return load_detector(list(names) if names else None,
                             ensemble=list(ensemble) if ensemble else None,
                             load=lambda name: predictor(name, sha[name]), tta=list(tta))
    except (OSError, ValueError) as exc:
        st.error(escape_markdown(f"The models cannot be loaded: {exc}"), icon=":material/error:")
        return None


def _versions(detector: Detector) -> tuple:
    """What a detector's results depend on: each model's file digest and calibrations, the
    ensemble and the models scored with test-time augmentation."""
    return (tuple((n, p.sha256, json.dumps([p.calibration, p.tta], sort_keys=True))
                  for n, p in detector.predictors.items()), tuple(detector.ensemble),
            detector.tta)


@st.cache_data(show_spinner=False, max_entries=32)
def _stability(x: np.ndarray, versions: tuple, _detector: Detector) -> Stability:
    return stability(_detector, x[None])


def stability_of(detector: Detector, x: np.ndarray) -> Stability:
    """``core.detect.stability.stability`` of one model input (its original scores are the
    verdicts'), computed once per input and set of model files."""
    return _stability(x, _versions(detector), detector)


@st.cache_data(show_spinner=False, max_entries=32)
def _ood(x: np.ndarray, versions: tuple, _detector: Detector):
    gaussian = _detector.ood_gaussian(prefer=("flagship", "scanner"))
    if gaussian is None:
        return None, None
    return gaussian, gaussian.ratio(_detector.predictors[gaussian.model].features(x[None]))


def ood_ratio(detector: Detector, x: np.ndarray) -> tuple[Gaussian | None, float | None]:
    """The off-distribution ratio of one model input by the flagship's features (the scanner's
    without it) and the Gaussian it comes from; ``(None, None)`` without one."""
    fitted = tuple((n, g.sha256, g.cutoff) for n, g in detector.gaussians.items())
    gaussian, ratios = _ood(x, (_versions(detector), fitted), detector)
    return gaussian, None if ratios is None else float(ratios[0])


@st.cache_data(show_spinner=False, max_entries=32)
def _with_and_without_tta(x: np.ndarray, name: str, versions: tuple,
                          _detector: Detector) -> tuple[float, float]:
    model = _detector.predictors[name]
    return float(model.predict(x[None])[0]), float(model.predict(x[None], tta=True)[0])


def with_and_without_tta(detector: Detector, x: np.ndarray, name: str) -> tuple[float, float]:
    """Model ``name``'s P(FAKE) for one model input from the image alone and with its
    test-time augmentation, computed once per input and model version."""
    return _with_and_without_tta(x, name, _versions(detector), detector)


@st.cache_data(show_spinner=False, max_entries=16)
def _tiles(image: np.ndarray, grid: int, versions: tuple, _detector: Detector) -> TileScores:
    return score_tiles(_detector, image, grid)


def tile_scores(detector: Detector, image: np.ndarray, grid: int) -> TileScores:
    """``core.detect.tiles.score_tiles``, computed once per image, grid and set of model
    files."""
    return _tiles(image, grid, _versions(detector), detector)


@st.cache_resource(show_spinner="Preparing heat maps…", max_entries=8)
def explainer(name: str, sha: str):
    """tf-keras-vis tools for one CNN (built once per process and file version)."""
    from core.detect.explain import Explainer

    return Explainer(predictor(name, sha).model)


@st.cache_data(show_spinner=False, max_entries=64)
def heatmap(x: np.ndarray, name: str, sha: str, method: str, layer: str, target: str,
            _explainer) -> np.ndarray:
    """``Explainer.heatmap`` of model ``name`` (file ``sha``), computed once per input and
    setting (opacity and colour map changes reuse it)."""
    return _explainer.heatmap(x, method, layer=layer, target=target)


# ---------------------------------------------------------------- training

@st.cache_resource
def training_runner() -> Runner:
    """One trainer per server process, shared by the Training lab and the lesson: one training
    at a time, the others queued."""
    return Runner(slots=1)


# ---------------------------------------------------------------- embedding spaces

def model_spaces(size: int) -> dict[str, Space]:
    """Each evaluated CNN's penultimate layer as an embedding space for images of ``size``
    pixels, listed from the reports: a model is loaded only when its space is computed."""
    return {
        cnn_space(r["name"], r.get("sha256", "")): Space(
            f"CNN features: the penultimate layer of the trained model {r['name']}.",
            partial(_penultimate, r["name"], r.get("sha256", "")))
        for r in model_reports()
        if r["family"] != "classical" and r.get("input_size", 32) == size
    }


def _penultimate(name: str, sha: str, images: np.ndarray, features: np.ndarray) -> np.ndarray:
    return predictor(name, sha).features(images)
