"""Test-time augmentation and the validation-weighted ensemble: views, the predictor option, the
choice and calibration on validation only, the detector, the evaluate command and the shipped
reports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO_ROOT, encode, run_cli, write_tree

from core.data.dataset import Dataset
from core.models.tta import IDENTITY, MIRROR, apply_view, candidates, describe, stack_views

MODELS = REPO_ROOT / "models"


# --- views and candidates ----------------------------------------------------------------------

def test_views_mirror_and_shift_with_reflect_padding():
    x = np.arange(2 * 4 * 4).reshape(2, 4, 4, 1)
    assert apply_view(x, IDENTITY) is x
    np.testing.assert_array_equal(apply_view(x, MIRROR), x[:, :, ::-1])
    shifted = apply_view(x, (False, 1, 1))[0, :, :, 0]
    # the window moves one pixel down-right; the last row and column reflect back
    np.testing.assert_array_equal(shifted, [[5, 6, 7, 6], [9, 10, 11, 10], [13, 14, 15, 14],
                                            [9, 10, 11, 10]])
    mirrored_shift = apply_view(x, (True, -2, -2))
    np.testing.assert_array_equal(mirrored_shift[:, 2:, 2:], x[:, :2, ::-1][:, :, :2])
    both = stack_views(x, [IDENTITY, MIRROR])
    assert both.shape == (4, 4, 4, 1)
    np.testing.assert_array_equal(both[2:], x[:, :, ::-1])


def test_candidates_follow_the_training_augmentations():
    assert list(candidates([])) == ["none"]
    assert candidates(["flip"]) == {"none": (IDENTITY,), "mirror": (IDENTITY, MIRROR)}
    both = candidates(["flip", "crop", "jpeg"])
    assert list(both) == ["none", "shift1", "shift2", "shift1+2", "mirror", "mirror+shift1",
                          "mirror+shift2", "mirror+shift1+2"]
    assert set(both["mirror+shift1"]) == {IDENTITY, MIRROR, (False, 1, 1), (False, -1, -1),
                                          (True, 1, 1), (True, -1, -1)}
    assert len(both["mirror+shift1+2"]) == 10
    assert set(candidates(["crop"])) == {"none", "shift1", "shift2", "shift1+2"}
    assert describe(both["mirror"]) == "the image and its mirror"
    assert describe(both["mirror+shift1"]) == "the image, its mirror and 1-pixel shifts of both"
    assert describe(both["shift1+2"]) == "the image and its 1- and 2-pixel shifts"


# --- a toy model whose score depends on brightness and on left minus right ---------------------

def toy_model(a: float, b: float):
    """A Keras model with P(FAKE) = sigmoid(a * (mean / 255 - 0.5) + b * (left - right) / 255),
    left and right the mean of each half of the image."""
    keras = pytest.importorskip("keras")

    inputs = keras.Input((32, 32, 3))
    dense = keras.layers.Dense(1, activation="sigmoid")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    side = np.where(np.arange(32) < 16, 1.0, -1.0)[None, :, None] * np.ones((32, 32, 3))
    weights = a / (3072 * 255) + b * side.reshape(-1) / (1536 * 255)
    dense.set_weights([weights[:, None].astype(np.float32), np.array([-a / 2], np.float32)])
    return model


def toy_images(brightness: np.ndarray, difference: np.ndarray, seed: int = 0) -> np.ndarray:
    """Images with mean brightness 127.5 + 255 * ``brightness`` and left half brighter than the
    right by 255 * ``difference``."""
    side = np.where(np.arange(32) < 16, 0.5, -0.5)[None, None, :, None]
    noise = np.random.default_rng(seed).normal(0, 2, (len(brightness), 32, 32, 3))
    x = (127.5 + 255 * brightness[:, None, None, None] + 255 * difference[:, None, None, None]
         * side + noise)
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def toy_dataset(n: int = 400, seed: int = 0, flip_test: bool = False) -> Dataset:
    """Train images whose label is their brightness (left minus right is noise) and test images
    whose label is left minus right (brightness is noise): the mirror helps on validation and
    hurts on test. ``flip_test`` swaps the test labels."""
    rng = np.random.default_rng(seed)
    labels = np.tile([0, 1], n)
    splits = np.repeat([0, 1], n)
    sign = 2 * labels - 1.0
    brightness = np.where(splits == 0, 0.08 * sign + rng.normal(0, 0.05, 2 * n),
                          rng.normal(0, 0.03, 2 * n))
    difference = np.where(splits == 0, rng.normal(0, 0.2, 2 * n),
                          0.25 * sign + rng.normal(0, 0.03, 2 * n))
    if flip_test:
        labels = np.where(splits == 1, 1 - labels, labels)
    return Dataset(images=toy_images(brightness, difference, seed), labels=labels.astype(np.int8),
                   splits=splits.astype(np.int8),
                   classes=(np.arange(2 * n) // 2 % 10 + 1).astype(np.int8),
                   paths=np.array([f"img{i}.png" for i in range(2 * n)]),
                   hashes=np.array([i.to_bytes(16, "big") for i in range(2 * n)], dtype="S16"),
                   source="toy", skipped=[], split_given=True)


def write_toy(models_dir: Path, name: str, a: float, b: float, augment=("flip",)) -> None:
    from core.models.artifacts import save_keras, write_report

    save_keras(toy_model(a, b), models_dir / f"{name}.keras")
    write_report({"name": name, "family": "cnn", "file": f"{name}.keras", "input_size": 32,
                  "split": {"seed": 0, "val_fraction": 0.5},
                  "training": {"augment": list(augment)}}, models_dir)


def test_mirror_tta_of_a_left_right_model_averages_to_one_half():
    from core.models.artifacts import Predictor

    predictor = Predictor("lr", "cnn", toy_model(0, 40), 32, tta={
        "views": [[False, 0, 0], [True, 0, 0]], "calibration": {"method": "platt", "a": 1.0,
                                                                "b": 0.0}})
    x = toy_images(np.zeros(6), np.linspace(-0.3, 0.3, 6))
    plain = predictor.predict(x)
    expected = 1 / (1 + np.exp(-40 * (x[:, :, :16].mean((1, 2, 3)) - x[:, :, 16:].mean((1, 2, 3)))
                               / 255))
    np.testing.assert_allclose(plain, expected, atol=1e-5)
    assert plain[0] < 0.01 and plain[-1] > 0.99
    # sigmoid(s) and sigmoid(-s) average to exactly one half
    np.testing.assert_allclose(predictor.predict(x, tta=True), 0.5, atol=1e-6)
    np.testing.assert_allclose(predictor.predict(x, tta=True, batch_size=3), 0.5, atol=1e-6)
    assert predictor.latency_ms(x[0], repeats=2, views=[IDENTITY, MIRROR]) > 0
    with pytest.raises(ValueError, match="no test-time augmentation"):
        Predictor("lr", "cnn", toy_model(0, 40), 32).predict(x, tta=True)


@pytest.fixture(scope="module")
def toy_models(tmp_path_factory):
    """A models folder with ``toy`` (brightness and left-right), ``toy_bright`` (brightness only)
    and ``toy_lr`` (left-right only), plainly evaluated on ``toy_dataset``."""
    from core.models.evaluate import evaluate_model

    models_dir = tmp_path_factory.mktemp("models")
    dataset = toy_dataset()
    for name, a, b in [("toy", 20, 20), ("toy_bright", 20, 0), ("toy_lr", 0, 20)]:
        write_toy(models_dir, name, a, b)
        evaluate_model(name, dataset, models_dir=models_dir)
    return models_dir, dataset


def test_tta_is_chosen_and_calibrated_on_validation_only(toy_models, tmp_path):
    import shutil

    from core.models.artifacts import load_predictor, read_report
    from core.models.calibration import apply_calibration, fit_calibration
    from core.models.evaluate import validation_rows
    from core.models.evaluate_tta import evaluate_tta

    models_dir, dataset = toy_models
    before = read_report("toy", models_dir)
    report = evaluate_tta("toy", dataset, models_dir=models_dir, cache_dir=tmp_path / "cache")
    tta = report["tta"]
    # validation: the mirror cancels the left-right noise; test would prefer the plain score
    assert tta["candidate"] == "mirror" and tta["raises_validation_accuracy"]
    assert tta["validation"]["accuracy"] > 0.9 > 0.75 > tta["plain_validation_accuracy"]
    options = tta["candidates"]
    assert options["none"]["test_accuracy"] > 0.9 > 0.6 > options["mirror"]["test_accuracy"]
    assert tta["metrics"]["test"]["at_threshold"]["accuracy"] == options["mirror"]["test_accuracy"]
    # the plain figures are reproduced and the rest of the report is left as it was
    assert options["none"]["threshold"] == pytest.approx(before["threshold"], abs=1e-6)
    assert options["none"]["validation_accuracy"] == before["validation"]["accuracy"]
    assert options["none"]["test_accuracy"] == before["metrics"]["test"]["at_threshold"][
        "accuracy"]
    assert {k: v for k, v in read_report("toy", models_dir).items() if k != "tta"} == before
    # the calibration is the one fitted on the validation images' averaged raw scores
    rows = validation_rows(report, dataset)
    model = load_predictor("toy", models_dir, calibrated=False)
    raw = model.raw(dataset.images[rows], [IDENTITY, MIRROR])
    fitted = fit_calibration(dataset.labels[rows], raw)
    assert tta["calibration"]["method"] == fitted["method"]
    np.testing.assert_allclose(apply_calibration(tta["calibration"], raw),
                               apply_calibration(fitted, raw), atol=1e-5)
    assert tta["calibration"]["n_validation"] == len(rows) == 200
    loaded = load_predictor("toy", models_dir)
    np.testing.assert_allclose(loaded.predict(dataset.images[rows], tta=True),
                               apply_calibration(fitted, raw), atol=1e-6)
    assert len(list((tmp_path / "cache" / "tta").glob("*.npy"))) == 4  # 2 views x 2 sets

    # other test labels change the test figures, never the choice, calibration or threshold
    other = tmp_path / "other"
    shutil.copytree(models_dir, other)
    flipped = evaluate_tta("toy", toy_dataset(flip_test=True), models_dir=other,
                           cache_dir=None)["tta"]
    for key in ("candidate", "views", "calibration", "threshold", "validation"):
        assert flipped[key] == tta[key], key
    assert flipped["candidates"]["none"]["test_accuracy"] == pytest.approx(
        1 - options["none"]["test_accuracy"])


def test_tta_refuses_unevaluated_models_and_models_without_candidates(toy_models, tmp_path):
    from core.models.artifacts import read_report, write_report
    from core.models.evaluate_tta import evaluate_tta

    _, dataset = toy_models
    write_toy(tmp_path, "plain", 20, 0, augment=())
    with pytest.raises(ValueError, match="not evaluated"):
        evaluate_tta("plain", dataset, models_dir=tmp_path)
    write_report({**read_report("plain", tmp_path), "metrics": {}}, tmp_path)
    with pytest.raises(ValueError, match="trained without flip or crop"):
        evaluate_tta("plain", dataset, models_dir=tmp_path)


def test_detector_scores_tta_models_with_their_views_and_threshold(toy_models, tmp_path):
    from core.detect.detector import load_detector, tta_helps
    from core.models.artifacts import load_predictor, read_report
    from core.models.evaluate_tta import evaluate_tta

    models_dir, dataset = toy_models
    evaluate_tta("toy", dataset, models_dir=models_dir, cache_dir=None)
    report = read_report("toy", models_dir)
    assert tta_helps(report) and not tta_helps(read_report("toy_lr", models_dir))
    plain = load_detector(["toy", "toy_lr"], models_dir=models_dir)
    detector = load_detector(["toy", "toy_lr"], models_dir=models_dir, tta=["toy"])
    assert plain.threshold("toy") == report["threshold"]
    assert detector.threshold("toy") == report["tta"]["threshold"]
    assert detector.threshold("toy_lr") == plain.threshold("toy_lr")
    x = dataset.images[:8]
    scores = detector.score(x)
    np.testing.assert_allclose(scores["toy"], load_predictor("toy", models_dir).predict(
        x, tta=True), atol=1e-6)
    np.testing.assert_allclose(scores["toy_lr"], plain.score(x)["toy_lr"], atol=1e-6)
    assert not np.allclose(scores["toy"], plain.score(x)["toy"], atol=1e-3)
    np.testing.assert_allclose(scores["ensemble"], (scores["toy"] + scores["toy_lr"]) / 2,
                               atol=1e-6)
    with pytest.raises(ValueError, match="no test-time augmentation"):
        load_detector(["toy", "toy_lr"], models_dir=models_dir, tta=["toy_lr"])


# --- the validation-weighted ensemble ----------------------------------------------------------

def test_ensemble_weights_recover_a_known_weighting():
    from core.models.ensemble_weights import fit_weights, weighted_scores

    rng = np.random.default_rng(0)
    z = rng.normal(0, 1.5, (40_000, 4))
    # the true log-odds: 2 z0 + z2 - 0.5; z1 is noise; z3 would enter with a negative weight
    y = rng.random(len(z)) < 1 / (1 + np.exp(-(2 * z[:, 0] + z[:, 2] - 0.5)))
    p = 1 / (1 + np.exp(-z))
    weights, bias = fit_weights(p[:, :3], y)
    np.testing.assert_allclose(weights, [2, 0, 1], atol=0.1)
    assert bias == pytest.approx(-0.5, abs=0.1)
    y_neg = rng.random(len(z)) < 1 / (1 + np.exp(-(2 * z[:, 0] - z[:, 3])))
    weights, _ = fit_weights(p[:, [0, 3]], y_neg)
    assert weights[1] == 0 and weights[0] > 1  # non-negative: z3 is left out
    np.testing.assert_allclose(weighted_scores(p[:3, :1], np.array([1.0]), 0.0), p[:3, 0],
                               atol=1e-4)


def test_ensemble_is_weighted_on_validation_only(toy_models):
    from core.models.ensemble_weights import evaluate_ensemble

    models_dir, dataset = toy_models
    result = evaluate_ensemble(dataset, ["toy_bright", "toy_lr"], models_dir=models_dir,
                               cache_dir=None)
    # validation labels follow brightness; test labels follow left-right, which the weighting
    # (like the calibration of toy_lr, whose validation scores carry no information) ignores
    assert result["weights"]["toy_bright"] > 0.5
    assert result["best_single"]["name"] == "toy_bright"
    assert result["weighted"]["validation_accuracy"] > 0.9
    assert result["weighted"]["test_accuracy"] < 0.6
    assert set(result["equal"]["models"]) == {"toy_lr", "toy_bright"}
    assert result["equal"]["threshold"] == 0.5
    stored = json.loads((models_dir / "ensemble.json").read_text())
    assert stored["weights"] == result["weights"]
    assert "best single model (toy_bright" in stored["reading"]
    with pytest.raises(ValueError, match="at least two"):
        evaluate_ensemble(dataset, ["toy"], models_dir=models_dir)


# --- the command line on a tiny slice ----------------------------------------------------------

@pytest.mark.slow
def test_evaluate_cli_tta_and_ensemble_on_a_tiny_slice(tmp_path):
    dataset = toy_dataset(n=100)
    files = {}
    for i in range(len(dataset.labels)):
        split = ("train", "test")[dataset.splits[i]]
        label = ("REAL", "FAKE")[dataset.labels[i]]
        k = dataset.classes[i]
        files[f"{split}/{label}/{i}{'' if k == 1 else f' ({k})'}.png"] = encode(
            dataset.images[i], ".png")
    data = write_tree(tmp_path / "data", files)
    models_dir = tmp_path / "models"
    write_toy(models_dir, "toy", 20, 20)
    write_toy(models_dir, "toy_lr", 0, 20)
    cache = tmp_path / "cache"
    out = {}
    for command, args in [("plain", ["--model", "toy", "--model", "toy_lr"]),
                          ("tta", ["--tta", "--model", "toy", "--model", "toy_lr"]),
                          ("ensemble", ["--ensemble"])]:
        done = run_cli("evaluate", *args, "--models-dir", models_dir, "--data", data,
                       cache_dir=cache)
        assert done.returncode == 0, done.stderr
        out[command] = done.stdout
    assert "toy: chose mirror (the image and its mirror) on validation accuracy" in out["tta"]
    assert "toy_lr: chose none" in out["tta"]
    assert "no longer reproduces" not in out["tta"]
    assert "best single (toy)" in out["ensemble"]
    report = json.loads((models_dir / "toy.json").read_text())
    assert report["tta"]["candidate"] == "mirror"
    assert report["tta"]["evaluated_on"]["n_validation"] == 50
    ensemble = json.loads((models_dir / "ensemble.json").read_text())
    assert set(ensemble["weights"]) == {"toy", "toy_lr"}
    refused = run_cli("evaluate", "--tta", "--model", "nothing", "--models-dir", models_dir,
                      "--data", data, cache_dir=cache)
    assert refused.returncode == 2 and refused.stderr.strip().splitlines()[-1].startswith(
        "error:")


# --- Check an image ----------------------------------------------------------------------------

@pytest.mark.slow
def test_check_page_uses_the_flagship_tta_when_its_report_says_so(tmp_path):
    import base64

    from helpers import random_image
    from streamlit.testing.v1 import AppTest

    from core.data.imageio import decode_image
    from core.detect.detector import prepare, tta_helps
    from core.models.artifacts import load_predictor, read_report

    report = read_report("flagship")
    assert "tta" in report  # committed: Check an image uses it by default
    photo = encode(random_image(5), ".jpg", quality=75)
    at = AppTest.from_file(str(REPO_ROOT / "streamlit_app.py"), default_timeout=120)
    at.session_state["data_path"] = str(tmp_path)
    at.run()
    at.switch_page("pages/predict.py")
    at.run()
    at.file_uploader(key="check_upload").set_value([("photo.jpg", photo, "image/jpeg")]).run()
    assert not at.exception
    model = load_predictor("flagship")
    x = prepare(decode_image(photo), 32)[None]
    plain, averaged = float(model.predict(x)[0]), float(model.predict(x, tta=True)[0])

    def shown() -> tuple[float, float]:
        """The flagship's bar and threshold tick in the verdict chart."""
        spec = json.loads(at.get("plotly_chart")[0].proto.spec)
        bars = spec["data"][0]
        xs = bars["x"]
        if isinstance(xs, dict):  # plotly's base64 typed array
            xs = np.frombuffer(base64.b64decode(xs["bdata"]), dtype=xs["dtype"])
        row = list(bars["y"]).index("flagship")
        ticks = [s for s in spec["layout"]["shapes"] if s["type"] == "line"]
        return float(xs[row]), float(ticks[row]["x0"])

    toggle = at.toggle(key="tta")
    assert "test-time augmentation" in toggle.label
    assert toggle.value == tta_helps(report)
    caption = " ".join(str(c.value) for c in at.caption)
    assert f"**{averaged:.3f}** averaged over {report['tta']['description']}" in caption
    assert f"**{plain:.3f}** from the image alone" in caption
    for on in (toggle.value, not toggle.value):
        at.toggle(key="tta").set_value(on).run()
        assert not at.exception
        p, threshold = shown()
        assert p == pytest.approx(averaged if on else plain, abs=1e-5)
        assert threshold == pytest.approx(report["tta"]["threshold"] if on
                                          else report["threshold"])


# --- the shipped reports -----------------------------------------------------------------------

def _shipped_with_tta() -> list[str]:
    reports = [json.loads(p.read_text()) for p in sorted(MODELS.glob("*.json"))]
    return [r["name"] for r in reports if isinstance(r, dict) and "tta" in r]


SHIPPED_TTA = _shipped_with_tta()


def test_the_flagship_scanner_and_robust_flagship_ship_tta():
    assert {"flagship", "flagship_robust", "scanner"} <= set(SHIPPED_TTA)


@pytest.mark.parametrize("name", SHIPPED_TTA)
def test_shipped_tta_sections_are_consistent(name):
    from core.models.evaluate_tta import choose, tta_candidates

    report = json.loads((MODELS / f"{name}.json").read_text())
    tta, options = report["tta"], tta_candidates(report)
    assert set(tta["candidates"]) == set(options)
    assert [tuple(v) for v in tta["views"]] == list(options[tta["candidate"]])
    assert tta["description"] == describe(tta["views"])
    # chosen on validation accuracy, ties to fewer views
    assert tta["candidate"] == choose(
        {o: c["validation_accuracy"] for o, c in tta["candidates"].items()},
        {o: c["n_views"] for o, c in tta["candidates"].items()})
    chosen = tta["candidates"][tta["candidate"]]
    assert chosen["validation_accuracy"] == tta["validation"]["accuracy"]
    assert chosen["threshold"] == tta["threshold"]
    assert chosen["test_accuracy"] == tta["metrics"]["test"]["at_threshold"]["accuracy"]
    assert chosen["leakfree_accuracy"] == tta["metrics"]["leakfree_test"]["at_threshold"][
        "accuracy"]
    assert tta["raises_validation_accuracy"] == (
        tta["validation"]["accuracy"] > tta["plain_validation_accuracy"])
    assert tta["calibration"]["n_validation"] == tta["evaluated_on"]["n_validation"] == (
        report["calibration"]["n_validation"])
    assert tta["evaluated_on"]["fingerprint"] == report["evaluated_on"]["fingerprint"]
    # the plain score is reproduced: the report's plain figures are unchanged
    plain = tta["candidates"]["none"]
    assert tta["plain_validation_accuracy"] == plain["validation_accuracy"] == (
        report["validation"]["accuracy"])
    assert plain["threshold"] == pytest.approx(report["threshold"], abs=1e-5)
    test, leakfree = report["metrics"]["test"], report["metrics"]["leakfree_test"]
    assert plain["test_accuracy"] == test["at_threshold"]["accuracy"]
    assert plain["leakfree_accuracy"] == leakfree["at_threshold"]["accuracy"]
    assert plain["test_auroc"] == pytest.approx(test["roc_auc"], abs=1e-6)
    assert tta["speed"]["images_per_second"] > 0


def test_shipped_ensemble_is_consistent():
    from core.models.ensemble_weights import reading

    path = MODELS / "ensemble.json"
    assert path.exists()  # committed: Model comparison shows it
    result = json.loads(path.read_text())
    reports = {n: json.loads((MODELS / f"{n}.json").read_text()) for n in result["models"]}
    assert all(r["family"] == "cnn" for r in reports.values())
    assert all(w >= 0 for w in result["weights"].values())
    best = max(reports, key=lambda n: reports[n]["validation"]["accuracy"])
    assert result["best_single"]["name"] == best
    assert result["best_single"]["test_accuracy"] == pytest.approx(
        reports[best]["metrics"]["test"]["at_threshold"]["accuracy"], abs=2e-4)
    assert result["reading"] == reading(result)
