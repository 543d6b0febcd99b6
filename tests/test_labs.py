"""Labs: perturbations and filters with known answers, the robustness battery, FGSM/PGD on a tiny
trained model, the filter matrix on tiny data, and the quiz's rounds and scores (its store:
test_quiz_store.py)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import Brightness, cli, random_image, stand_in_detector

from core.data import perturb
from core.data.imageio import decode_image, describe_image
from core.labs.filters import FILTERS, apply_filter, srm_residual
from core.labs.robustness import PERTURBATIONS, battery
from core.models.artifacts import Predictor
from core.models.metrics import accuracy_at

BATCH = np.stack([random_image(i, (32, 32)) for i in range(6)])


# --- perturbations and filters --------------------------------------------------------------


def test_gray_world_equalises_channel_means():
    image = BATCH // 2 + 40  # mid-range: no channel saturates when scaled
    image[..., 0] //= 2  # a strong colour cast
    out = perturb.gray_world(image)
    means = out.reshape(len(out), -1, 3).mean(axis=1)
    assert np.abs(means - means.mean(axis=1, keepdims=True)).max() < 0.5
    before = image.reshape(len(image), -1).mean(axis=1)
    np.testing.assert_allclose(out.reshape(len(out), -1).mean(axis=1), before, atol=1.0)


@pytest.mark.parametrize("quality", [95, 50, 10])
def test_jpeg_round_trip_uses_the_quality_tables(quality):
    out = perturb.jpeg(BATCH, quality)
    assert out.shape == BATCH.shape and out.dtype == np.uint8
    import cv2

    ok, buf = cv2.imencode(".jpg", BATCH[0][:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert describe_image(buf.tobytes()).jpeg_quality == quality
    np.testing.assert_array_equal(out[0], decode_image(buf.tobytes()))
    assert np.abs(out.astype(int) - BATCH).mean() > (0.3 if quality == 95 else 1.0)


@pytest.mark.parametrize("sigma", [2.0, 8.0, 16.0])
def test_noise_has_the_asked_sigma(sigma):
    flat = np.full((20, 32, 32, 3), 128, np.uint8)
    noisy = perturb.noise(flat, sigma, seed=1).astype(float) - 128
    assert noisy.std() == pytest.approx(sigma, rel=0.03)
    assert abs(noisy.mean()) < 0.2
    np.testing.assert_array_equal(perturb.noise(flat, sigma, seed=1), perturb.noise(flat, sigma,
                                                                                    seed=1))


def test_blur_rescale_crop_keep_shape_and_lose_detail():
    stripes = np.zeros((1, 32, 32, 3), np.uint8)
    stripes[:, :, ::2] = 255
    for out in (perturb.blur(stripes, 1.0), perturb.rescale(stripes, 16)):
        assert out.shape == stripes.shape
        assert np.abs(np.diff(out.astype(int), axis=2)).mean() < 60  # stripes smoothed away
    assert perturb.blur(stripes, 0).tolist() == stripes.tolist()
    image = np.zeros((1, 32, 32, 3), np.uint8)
    image[:, 8:24, 8:24] = 200  # the centre half is bright
    assert perturb.center_crop(image, 0.5).min() == 200


def test_srm_residual_of_a_flat_image_is_mid_grey():
    flat = np.full((2, 16, 16, 3), 77, np.uint8)
    np.testing.assert_array_equal(srm_residual(flat), np.full_like(flat, 128))
    edges = srm_residual(BATCH)
    assert edges.std() > 5  # texture gives residuals


def test_filters_apply_in_chunks(monkeypatch):
    import core.labs.filters

    monkeypatch.setattr(core.labs.filters, "CHUNK", 4)
    for name in FILTERS:
        out = apply_filter(name, BATCH)
        assert out.shape == BATCH.shape and out.dtype == np.uint8
        np.testing.assert_array_equal(out, FILTERS[name].apply(BATCH))
    assert apply_filter("original", BATCH).tolist() == BATCH.tolist()
    median = apply_filter("median", BATCH)
    import cv2

    np.testing.assert_array_equal(median[2], cv2.medianBlur(BATCH[2], 3))


def test_every_perturbation_runs_at_every_severity_and_slider_value():
    for kind, p in PERTURBATIONS.items():
        low, high, default, step = p.slider
        assert low <= default <= high, kind
        for severity in (*p.severities, low, high):
            out = p.apply(BATCH, severity)
            assert out.shape == BATCH.shape and out.dtype == np.uint8, (kind, severity)


def test_battery_scores_a_known_model():
    images = np.concatenate([np.full((10, 32, 32, 3), 60, np.uint8),
                             np.full((10, 32, 32, 3), 200, np.uint8)])
    labels = np.array([0] * 10 + [1] * 10)
    result = battery({"bright": Predictor("bright", "classical", Brightness(), 32)},
                     {"bright": 0.5}, images, labels)["bright"]
    assert result["clean"] == {"accuracy": 1.0, "auroc": 1.0}
    assert set(result) == {"clean", *PERTURBATIONS}
    assert result["jpeg"]["50"]["accuracy"] == 1.0  # flat images survive JPEG
    assert result["noise"]["16"]["auroc"] == 1.0
    assert set(result["blur"]) == {"0.5", "1.0", "1.5"}


# --- adversarial ----------------------------------------------------------------------------


def test_fgsm_increases_the_loss(tiny_cnn):
    from core.labs.adversarial import fgsm, loss_gradient

    model, x, y = tiny_cnn
    clean, _ = loss_gradient(model, x, y)
    attacked = fgsm(model, x, y, 4.0)
    assert np.abs(attacked - x).max() <= 4.0 + 1e-4 and attacked.min() >= 0
    after, _ = loss_gradient(model, attacked, y)
    assert after.mean() > clean.mean()
    np.testing.assert_array_equal(fgsm(model, x, y, 0.0), x)


def test_pgd_stays_in_the_ball_and_beats_fgsm(tiny_cnn):
    from core.labs.adversarial import fgsm, loss_gradient, pgd

    model, x, y = tiny_cnn
    attacked = pgd(model, x, y, 2.0, steps=5)
    assert np.abs(attacked - x).max() <= 2.0 + 1e-4
    assert attacked.min() >= 0 and attacked.max() <= 255
    pgd_loss, _ = loss_gradient(model, attacked, y)
    fgsm_loss, _ = loss_gradient(model, fgsm(model, x, y, 2.0), y)
    assert pgd_loss.mean() >= 0.95 * fgsm_loss.mean()


def test_curves_start_at_clean_accuracy(tiny_cnn):
    from core.labs.adversarial import curves

    model, x, y = tiny_cnn
    out = curves(model, 0.5, x.astype(np.uint8), y.astype(int), epsilons=(0.0, 8.0))
    clean = accuracy_at(model.predict(x, verbose=0).reshape(-1), y, 0.5)
    for method in ("fgsm", "pgd"):
        assert [c["epsilon"] for c in out[method]] == [0.0, 8.0]
        assert out[method][0]["accuracy"] == pytest.approx(clean, abs=0.02)
        assert out[method][1]["accuracy"] <= out[method][0]["accuracy"]


def test_attack_image_scores_through_the_predictor(tiny_cnn):
    from core.labs.adversarial import attack_image, fgsm

    model, x, y = tiny_cnn
    predictor = Predictor("tiny", "cnn", model, 32)
    k = int(np.flatnonzero(y == 1)[0])  # a bright image: FAKE
    image = x[k].astype(np.uint8)
    result = attack_image(predictor, image, 1, "fgsm", 4.0)
    expected = fgsm(model, image[None], np.array([1]), 4.0)[0]
    np.testing.assert_array_equal(result.attacked, expected)
    assert result.p_before == pytest.approx(float(predictor.predict(image[None])[0]))
    assert result.p_after == pytest.approx(float(predictor.predict(expected[None])[0]))
    assert result.p_after < result.p_before  # pushed away from FAKE
    assert result.largest_change == pytest.approx(4.0)
    assert result.mean_change == pytest.approx(float(np.abs(expected - image).mean()))
    assert result.shown.dtype == np.uint8
    moved = np.abs(result.change) == 4.0
    assert set(np.unique(result.amplified_change[moved])) <= {1, 255}
    assert (result.amplified_change[result.change == 0] == 128).all()


def test_changed_verdicts_compare_banded_verdicts():
    from core.labs.robustness import changed_verdicts

    detector = stand_in_detector()
    dark, light = (np.full((1, 32, 32, 3), v, np.uint8) for v in (51, 230))
    # bright: 0.2 REAL -> 0.9 FAKE; contrast: 0 REAL twice; ensemble: 0.1 REAL -> 0.45 inconclusive
    before, after = detector.score(dark), detector.score(light)
    assert changed_verdicts(detector, before, after) == ["bright", "ensemble"]
    assert changed_verdicts(detector, before, after, band=0.0) == ["bright"]
    assert changed_verdicts(detector, before, before) == []


# --- quiz -----------------------------------------------------------------------------------


def _quiz_dataset():
    from core.data.dataset import Dataset

    n = 40
    return Dataset(
        images=np.zeros((n, 32, 32, 3), np.uint8), labels=np.array([0, 1] * 20, np.int8),
        splits=np.array([0] * 10 + [1] * 30, np.int8), classes=np.ones(n, np.int8),
        paths=np.array([f"f{i}.jpg" for i in range(n)]), hashes=np.arange(n).astype("S16"),
        source="tiny", skipped=[], split_given=True)


def test_round_is_balanced_and_fixed_by_its_code():
    from core.labs.quiz import make_round

    dataset = _quiz_dataset()
    a = make_round(dataset, "class7", 15)
    b = make_round(dataset, " CLASS7 ", 15)
    assert a.code == "CLASS7" and a.rows.tolist() == b.rows.tolist()
    assert sorted(a.labels.tolist()) == [0] * 7 + [1] * 8
    assert (dataset.splits[a.rows] == 1).all() and len(set(a.rows.tolist())) == 15
    assert make_round(dataset, "OTHER1", 15).rows.tolist() != a.rows.tolist()
    with pytest.raises(ValueError, match="4 to 12 letters"):
        make_round(dataset, "a!", 15)
    with pytest.raises(ValueError, match="only 15 REAL test images"):
        make_round(dataset, "BIGGER", 40)


def test_score():
    from core.labs.quiz import Score, score

    assert score([1, 0, 1, 1], np.array([1, 0, 0, 1])) == Score(correct=3, total=4, wrong=[2])
    assert score([1, 0, 1, 1], np.array([1, 0, 0, 1])).accuracy == 0.75
    assert score([0, 0], np.array([1, 1])) == Score(correct=0, total=2, wrong=[0, 1])
    with pytest.raises(ValueError, match="3 answers for 4 images"):
        score([1, 0, 1], np.array([1, 0, 0, 1]))


def test_model_accuracy_uses_each_models_threshold():
    from core.labs.quiz import model_accuracy

    images = np.stack([np.full((32, 32, 3), v, np.uint8) for v in (51, 230, 230, 51)])
    # bright calls [REAL, FAKE, FAKE, REAL], contrast calls everything REAL
    accuracy = model_accuracy(stand_in_detector(), images, np.array([0, 1, 1, 1]))
    assert accuracy == {"bright": 0.75, "contrast": 0.25}


# --- commands on the real data (small slices) -----------------------------------------------


def _copy_models(names, target):
    import shutil

    from core.models.artifacts import MODELS_DIR

    target.mkdir()
    for name in names:
        for path in MODELS_DIR.glob(f"{name}.*"):
            shutil.copy(path, target / path.name)
    return target


@pytest.mark.real_data
@pytest.mark.slow
def test_robustness_cli_merges_results(cifake_zip, tmp_path):
    import json

    models = _copy_models(["logreg", "lenet"], tmp_path / "models")
    result = cli("robustness", "--model", "logreg", "--data", cifake_zip, "--limit", 300,
                     "--models-dir", models)
    assert result.returncode == 0, result.stderr
    result = cli("robustness", "--model", "lenet", "--data", cifake_zip, "--limit", 300,
                     "--models-dir", models)
    assert result.returncode == 0, result.stderr
    report = json.loads((models / "robustness.json").read_text())
    assert set(report["models"]) == {"logreg", "lenet"} and report["rows"] <= 300
    lenet = report["models"]["lenet"]
    assert 0.85 < lenet["clean"]["accuracy"] <= 1 and lenet["clean"]["auroc"] > 0.93
    assert lenet["blur"]["1.5"]["auroc"] < lenet["clean"]["auroc"]  # blur hurts the CNN
    assert "lenet" in result.stdout and "JPEG q50 AUROC" in result.stdout
    assert cli("robustness", "--model", "ghost", "--models-dir", models).returncode == 2


@pytest.mark.real_data
@pytest.mark.slow
def test_adversarial_cli(cifake_zip, tmp_path):
    import json

    models = _copy_models(["lenet", "logreg"], tmp_path / "models")
    result = cli("adversarial", "--data", cifake_zip, "--n", 100, "--models-dir", models)
    assert result.returncode == 0, result.stderr
    report = json.loads((models / "adversarial.json").read_text())
    assert list(report["models"]) == ["lenet"]  # CNNs only
    for method in ("fgsm", "pgd"):
        curve = report["models"]["lenet"][method]
        assert [c["epsilon"] for c in curve] == [0.0, 0.5, 1.0, 2.0, 4.0, 8.0]
        assert curve[0]["accuracy"] > 0.8 and curve[-1]["accuracy"] < 0.5


@pytest.mark.real_data
@pytest.mark.slow
def test_filter_matrix_on_a_slice(cifake_zip, tmp_path):
    import json

    from core.data.dataset import load_dataset
    from core.labs.robustness import evaluation_rows

    result = cli("filters", "--model", "lenet", "--epochs", 1, "--limit", 1500,
                     "--test-limit", 1000, "--data", cifake_zip, "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "filter_matrix.json").read_text())
    assert report["variants"] == ["original", "gray_world", "gaussian", "median", "srm"]
    for row in report["accuracy"].values():
        assert set(row) == set(report["variants"])
        assert all(0 <= v <= 1 for v in row.values())
    assert report["accuracy"]["original"]["original"] > 0.6  # learns something from 1,350 images
    # a stratified subset: about the asked size, each (label, class) stratum rounded
    assert report["n_test"] == len(evaluation_rows(load_dataset(cifake_zip), 1000))


def test_too_small_evaluation_set_is_refused():
    from core.labs.robustness import evaluation_rows

    dataset = _quiz_dataset()
    assert len(evaluation_rows(dataset)) == 30
    with pytest.raises(ValueError, match="both REAL and FAKE are needed"):
        evaluation_rows(dataset, limit=0)


@pytest.mark.real_data
@pytest.mark.slow
def test_ood_and_stability_commands_write_their_reports(cifake_zip, tmp_path):
    import json

    from core.detect import ood

    models = _copy_models(["scanner"], tmp_path / "models")
    result = cli("ood", "--model", "scanner", "--data", cifake_zip, "--train-sample", 600,
                     "--proxy-sample", 40, "--models-dir", models)
    assert result.returncode == 0, result.stderr
    report = json.loads((models / "ood.json").read_text())
    assert report["flag_rate_target"] == ood.FLAG_RATE and report["proxy_images"] == 40
    assert 590 <= report["train_images"] <= 610 and report["validation_images"] == 10_000
    entry = report["models"]["scanner"]
    assert entry["dim"] == 64 and len(entry["mean"]) == 64
    assert 0.045 <= entry["flag_rates"]["validation"] <= ood.FLAG_RATE
    assert 0.01 < entry["flag_rates"]["test"] < 0.15
    assert len(entry["stand_ins"]) == 8
    assert entry["stand_ins"]["CIFAKE test, PNG re-save"]["rules"] == 1.0  # not a JPEG
    assert entry["stand_ins"]["CIFAKE test, blur σ 1.0"]["rules"] == 0.0  # arrays: no file rules
    assert ood.load_gaussians(models)["scanner"].cutoff == entry["cutoff"]
    assert "scanner: cut-off" in result.stdout

    result = cli("stability", "--model", "scanner", "--data", cifake_zip, "--limit", 200,
                     "--models-dir", models)
    assert result.returncode == 0, result.stderr
    report = json.loads((models / "stability.json").read_text())
    assert 195 <= report["images"] <= 205 and report["ensemble"] == ["scanner"]
    scanner = report["models"]["scanner"]
    assert scanner["stable_images"] + scanner["unstable_images"] == report["images"]
    assert 0.9 < scanner["accuracy"] <= 1 and scanner["unstable_share"] < 0.2
    assert set(scanner["flipped_by"]) == set(report["checks"])
