"""Training, saving, loading and evaluating models on a tiny generated CIFAKE-like dataset.

Every models folder and cache here is a temporary directory (never ``models/``).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import cifake_files, random_image, run_cli, write_tree

from core.data.dataset import load_dataset
from core.data.sources import CLASS_NAMES, LABELS, SPLITS
from core.models.artifacts import (
    list_reports,
    load_predictor,
    read_report,
    save_keras,
    save_sklearn,
    sha256,
    write_report,
)
from core.models.evaluate import LEADERBOARD_KEYS, evaluate_model, read_test_scores
from core.models.metrics import threshold_metrics

keras = pytest.importorskip("keras")

from core.data.dataset import train_val_rows  # noqa: E402
from core.models.train import TrainConfig, train  # noqa: E402

PER_CLASS = 6  # images per split x label x class
N_TRAIN = 2 * 10 * PER_CLASS  # 120
LEAKED = "test/FAKE/59 (10).jpg"  # a byte copy of a train image


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """FAKE images brighter and noisier than REAL ones (learnable), one test image leaked."""
    files = cifake_files(10 * PER_CLASS, separable=True)
    files[LEAKED] = files["train/FAKE/59 (10).jpg"]
    return write_tree(tmp_path_factory.mktemp("tiny-cifake"), files)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def dataset(data_dir, cache_dir):
    return load_dataset(data_dir, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def lenet_report(dataset, models_dir):
    return train(TrainConfig(model="lenet", epochs=2, batch_size=16), dataset,
                 models_dir=models_dir, verbose=0)


@pytest.fixture(scope="module")
def nb_report(dataset, models_dir):
    return train(TrainConfig(model="naive_bayes"), dataset, models_dir=models_dir, verbose=0)


def _strict_json(path: Path):
    """Parse JSON refusing NaN/Infinity (which browsers' JSON.parse rejects)."""
    def refuse(constant):
        raise AssertionError(f"{path.name} holds {constant}")
    return json.loads(path.read_text(), parse_constant=refuse)


# --- the dataset and the train/validation split -----------------------------------------------


def test_tiny_dataset(dataset):
    assert len(dataset) == 4 * 10 * PER_CLASS
    assert dataset.counts() == {s: {lab: 60 for lab in LABELS} for s in SPLITS}
    assert dataset.skipped == []


def test_train_val_rows(dataset):
    train_rows, val_rows = train_val_rows(dataset)
    assert len(np.intersect1d(train_rows, val_rows)) == 0
    assert (dataset.splits[train_rows] == 0).all() and (dataset.splits[val_rows] == 0).all()
    assert sorted(np.concatenate([train_rows, val_rows])) == \
        np.flatnonzero(dataset.splits == 0).tolist()
    # stratified: round(6 * 0.1) = 1 validation image per (label, class)
    assert len(val_rows) == 20 and len(train_rows) == N_TRAIN - 20
    strata = dataset.labels[val_rows].astype(int) * 16 + dataset.classes[val_rows]
    assert sorted(strata) == sorted(lab * 16 + c for lab in (0, 1) for c in range(1, 11))
    # deterministic, and the seed matters
    again = train_val_rows(dataset)
    np.testing.assert_array_equal(train_rows, again[0])
    np.testing.assert_array_equal(val_rows, again[1])
    other = train_val_rows(dataset, seed=1)
    assert not np.array_equal(val_rows, other[1])


def test_train_val_rows_limit_and_fraction(dataset):
    train_rows, val_rows = train_val_rows(dataset, val_fraction=0.5, limit=80)
    # limit 80 of 120: round(6 * 2/3) = 4 per stratum, then half of those to validation
    assert len(train_rows) == 40 and len(val_rows) == 40
    assert len(np.intersect1d(train_rows, val_rows)) == 0
    assert (dataset.splits[np.concatenate([train_rows, val_rows])] == 0).all()
    for lab in (0, 1):
        for c in range(1, 11):
            assert ((dataset.labels[val_rows] == lab) & (dataset.classes[val_rows] == c)).sum() == 2


@pytest.mark.parametrize("limit", [1, 20])
def test_too_few_training_images_refused(dataset, tmp_path, limit):
    # limit 20 of 120: 1 image per (label, class), none of which round(0.1) sends to validation
    with pytest.raises(ValueError, match="cannot be split into training and validation"):
        train_val_rows(dataset, limit=limit)
    for model in ("naive_bayes", "lenet"):
        with pytest.raises(ValueError, match="use more training images"):
            train(TrainConfig(model=model, limit=limit, epochs=1), dataset,
                  models_dir=tmp_path / "models", verbose=0)
    assert not (tmp_path / "models").exists()  # refused before anything is written


# --- training a Keras model -------------------------------------------------------------------


def test_train_keras_writes_model_and_report(lenet_report, models_dir, dataset):
    report = lenet_report
    assert (models_dir / "lenet.keras").is_file() and (models_dir / "lenet.json").is_file()
    assert _strict_json(models_dir / "lenet.json") == report
    assert report["name"] == "lenet" and report["architecture"] == "lenet"
    assert report["family"] == "cnn"
    assert report["file"] == "lenet.keras"
    assert report["params"] == build_params("lenet")
    assert report["sha256"] == sha256(models_dir / "lenet.keras")
    assert report["file_mb"] == pytest.approx((models_dir / "lenet.keras").stat().st_size / 2**20,
                                              abs=1e-3)
    assert report["input_size"] == 32
    assert report["data"]["fingerprint"] == dataset.fingerprint
    assert report["split"] == {"seed": 0, "val_fraction": 0.1, "n_train": 100, "n_val": 20}
    assert 0 < report["threshold"] < 1
    training = report["training"]
    assert training["epochs"] == 2 and training["batch_size"] == 16 and training["model"] == "lenet"
    history = training["history"]
    assert len(history["loss"]) == len(history["val_loss"]) == 2
    assert history["best_epoch"] == int(np.argmin(history["val_loss"])) + 1
    assert training["seconds"] >= 0
    assert report["reference"]["test_accuracy"] == 0.94
    for part, n in (("test", 120), ("leakfree_test", 119)):  # one test image leaked
        metrics = report["metrics"][part]
        assert metrics["n"] == n
        for at in ("at_0.5", "at_threshold"):
            assert 0 <= metrics[at]["accuracy"] <= 1
            assert sum(map(sum, metrics[at]["confusion"])) == n
        assert metrics["at_threshold"]["threshold"] == report["threshold"]
        assert set(metrics["per_class_accuracy"]) == set(CLASS_NAMES[1:])
    assert report["speed"]["images_per_second"] > 0
    assert report["speed"]["single_image_ms"] > 0
    assert report["evaluated_on"] == {"fingerprint": dataset.fingerprint, "n_test": 120,
                                      "n_leakfree_test": 119}


def test_continue_training_from_saved_model(lenet_report, models_dir, dataset, tmp_path):
    start = models_dir / "lenet.keras"
    before = keras.saving.load_model(start, compile=False).get_weights()
    report = train(TrainConfig(model="lenet", name="more", epochs=1, batch_size=16,
                               learning_rate=1e-12, init=str(start)),
                   dataset, models_dir=tmp_path, verbose=0)
    after = keras.saving.load_model(tmp_path / "more.keras", compile=False).get_weights()
    for a, b in zip(after, before):  # a vanishing learning rate keeps the starting weights
        np.testing.assert_allclose(a, b, atol=1e-6)
    initial = report["training"]["initial"]
    assert initial["sha256"] == sha256(start) and initial["file"] == "lenet.keras"
    assert initial["training"] == lenet_report["training"]
    from core.models.evaluate import leaderboard_rows

    [row] = leaderboard_rows([report])
    assert row["train_seconds"] == pytest.approx(report["training"]["seconds"]
                                                 + lenet_report["training"]["seconds"])
    assert report["metrics"]["test"]["roc_auc"] == pytest.approx(
        lenet_report["metrics"]["test"]["roc_auc"], abs=1e-3)


def test_evaluation_calibrates_on_validation(lenet_report, models_dir, dataset):
    """The harness fits Platt scaling on the validation rows, picks the threshold on the
    calibrated scores, and every stored or served score is calibrated."""
    from core.models.calibration import apply_calibration, fit_calibration

    report = lenet_report
    cal = report["calibration"]
    assert cal["method"] in ("platt", "isotonic") and cal["n_validation"] == 20
    _, val_rows = train_val_rows(dataset)
    raw = load_predictor("lenet", models_dir, calibrated=False).predict(dataset.images[val_rows])
    refit = fit_calibration(dataset.labels[val_rows], raw)
    assert {k: v for k, v in cal.items() if k in refit} == refit
    test = dataset.splits == 1
    raw_test = load_predictor("lenet", models_dir, calibrated=False).predict(dataset.images[test])
    served = load_predictor("lenet", models_dir).predict(dataset.images[test])
    np.testing.assert_allclose(served, apply_calibration(cal, raw_test), atol=1e-6)
    stored = np.asarray(read_test_scores(models_dir)["scores"]["lenet"])
    np.testing.assert_allclose(stored, served, atol=1e-4)
    assert report["metrics"]["test"]["uncalibrated"]["ece"] >= 0
    assert report["validation"]["accuracy"] == threshold_metrics(
        dataset.labels[val_rows], apply_calibration(cal, raw), report["threshold"])["accuracy"]


@pytest.mark.slow
def test_resume_continues_an_interrupted_run(dataset, tmp_path, monkeypatch):
    """A run stopped after its first epoch leaves a checkpoint; a plain re-run refuses to
    discard it, --resume finishes the run with both epochs in its history and time."""
    import core.models.train as train_module

    monkeypatch.setattr(train_module, "CHECKPOINT_DIR", tmp_path / "checkpoints")
    config = dict(model="scanner", name="resumed", width=4, epochs=2, batch_size=32)

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    real_log = train_module._epoch_log

    def log_then_stop(path):
        log = real_log(path)
        original = log.on_epoch_end
        log.on_epoch_end = lambda epoch, logs=None: (original(epoch, logs),
                                                     Stop().on_epoch_end(epoch))
        return log

    monkeypatch.setattr(train_module, "_epoch_log", log_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(**config), dataset, models_dir=tmp_path, verbose=0)
    checkpoint = tmp_path / "checkpoints" / "resumed"
    assert len(json.loads((checkpoint / "history.json").read_text())) == 1
    assert not (tmp_path / "resumed.keras").exists()
    monkeypatch.setattr(train_module, "_epoch_log", real_log)
    with pytest.raises(ValueError, match="--resume"):
        train(TrainConfig(**config), dataset, models_dir=tmp_path, verbose=0)
    report = train(TrainConfig(**config, resume=True), dataset, models_dir=tmp_path, verbose=0)
    assert len(report["training"]["history"]["val_loss"]) == 2
    assert report["training"]["seconds"] >= sum(report["training"]["history"]["epoch_seconds"])
    assert not checkpoint.exists()  # a finished run leaves no checkpoint
    with pytest.raises(ValueError, match="no checkpoint"):
        train(TrainConfig(**{**config, "name": "never"}, resume=True), dataset, models_dir=tmp_path)


def test_distilled_targets_mix_label_and_teacher(dataset):
    """With a teacher, each target is the mean of the label and the teacher's P(FAKE) on the
    same (augmented) image."""
    from core.models.deep import build_model
    from core.models.train import DISTILL_WEIGHT, batches

    teacher = build_model("scanner", width=4)
    images, labels = dataset.images[:40], dataset.labels[:40]
    x, y = batches(images, labels, 16, ("flip",), 0, teacher)[0]
    p = np.asarray(teacher(x, training=False)).reshape(-1)
    order = np.sort(np.random.default_rng(0).permutation(40)[:16])
    expected = (1 - DISTILL_WEIGHT) * labels[order] + DISTILL_WEIGHT * p
    np.testing.assert_allclose(y, expected, atol=1e-5)
    assert DISTILL_WEIGHT == 0.5 and not np.isin(y, (0.0, 1.0)).all()


def build_params(name: str) -> int:
    from core.models.deep import build_model

    return build_model(name).count_params()


def test_train_keras_metrics_match_saved_model(lenet_report, models_dir, dataset):
    test = dataset.splits == 1
    p = load_predictor("lenet", models_dir).predict(dataset.images[test])
    recorded = lenet_report["metrics"]["test"]
    t = lenet_report["threshold"]
    assert threshold_metrics(dataset.labels[test], p, t)["accuracy"] == \
        pytest.approx(recorded["at_threshold"]["accuracy"])
    assert threshold_metrics(dataset.labels[test], p, 0.5)["confusion"] == \
        recorded["at_0.5"]["confusion"]
    scores = read_test_scores(models_dir)
    assert scores["fingerprint"] == dataset.fingerprint
    assert scores["paths"] == dataset.paths[test].tolist()
    assert sum(scores["leakfree"]) == 119
    np.testing.assert_allclose(scores["scores"]["lenet"], p, atol=1e-4)  # rounded to 4 places


def test_leaderboard(lenet_report, nb_report, models_dir):
    rows = _strict_json(models_dir / "leaderboard.json")
    assert {r["name"] for r in rows} == {"lenet", "naive_bayes"}
    assert [r["test_accuracy"] for r in rows] == sorted((r["test_accuracy"] for r in rows),
                                                        reverse=True)
    for row in rows:
        assert set(LEADERBOARD_KEYS) <= set(row)
        report = read_report(row["name"], models_dir)
        assert row["test_accuracy"] == report["metrics"]["test"]["at_threshold"]["accuracy"]
        assert row["leakfree_accuracy"] == \
            report["metrics"]["leakfree_test"]["at_threshold"]["accuracy"]
        assert row["family"] == report["family"] and row["threshold"] == report["threshold"]
        assert row["images_per_second"] == report["speed"]["images_per_second"]
    assert [r["name"] for r in list_reports(models_dir)] == ["lenet", "naive_bayes"]


def test_evaluate_is_reproducible(lenet_report, nb_report, models_dir, dataset, tmp_path):
    copy = shutil.copytree(models_dir, tmp_path / "models")  # leave the shared reports as trained
    for before in (lenet_report, nb_report):
        after = evaluate_model(before["name"], dataset, models_dir=copy)
        for part in ("test", "leakfree_test"):
            for key in ("roc_auc", "log_loss", "brier", "ece"):
                assert after["metrics"][part][key] == pytest.approx(before["metrics"][part][key],
                                                                    abs=1e-6)
            assert after["metrics"][part]["at_threshold"] == before["metrics"][part]["at_threshold"]
        assert after["sha256"] == before["sha256"]


def test_evaluate_refuses_other_size(lenet_report, models_dir, data_dir, cache_dir):
    small = load_dataset(data_dir, size=16, cache_dir=cache_dir)
    with pytest.raises(ValueError, match="takes 32x32 images, the dataset was loaded at 16x16"):
        evaluate_model("lenet", small, models_dir=models_dir)


# --- classical models -------------------------------------------------------------------------


def test_train_naive_bayes(nb_report, models_dir):
    report = nb_report
    assert (models_dir / "naive_bayes.skops").is_file()
    assert _strict_json(models_dir / "naive_bayes.json") == report
    assert report["family"] == "classical" and report["file"] == "naive_bayes.skops"
    assert report["params"] is None
    assert report["sha256"] == sha256(models_dir / "naive_bayes.skops")
    assert report["training"]["history"] == {"n_fit": 100}
    assert report["notes"] == ["Gaussian naive Bayes on raw pixels."]
    # FAKE images are brighter: easy for a per-pixel Gaussian model
    assert report["validation"]["accuracy"] >= 0.9
    assert report["metrics"]["test"]["at_threshold"]["accuracy"] >= 0.9
    assert report["metrics"]["test"]["roc_auc"] >= 0.95


def test_train_logreg(dataset, tmp_path):
    report = train(TrainConfig(model="logreg", name="logreg_tiny"), dataset, models_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "leaderboard.json", "logreg_tiny.json", "logreg_tiny.skops", "test_scores.json"]
    assert report["name"] == "logreg_tiny" and report["architecture"] == "logreg"
    assert report["family"] == "classical"
    assert report["reference"]["test_accuracy"] == 0.677
    assert report["metrics"]["test"]["at_threshold"]["accuracy"] >= 0.9
    predictor = load_predictor("logreg_tiny", tmp_path)
    assert predictor.family == "classical" and predictor.size == 32


# --- saving and loading -----------------------------------------------------------------------


def _register(path: Path, family: str) -> None:
    write_report({"name": path.stem, "family": family, "file": path.name,
                  "sha256": sha256(path), "input_size": 32, "threshold": 0.5}, path.parent)


def _images(n=24, seed=0):
    return np.stack([random_image(seed + i) for i in range(n)])


def test_keras_round_trip(tmp_path):
    from core.models.deep import build_model

    keras.utils.set_random_seed(1)
    model = build_model("bn5_cnn")
    images = _images()
    before = np.asarray(model(images.astype(np.float32), training=False)).reshape(-1)
    _register(save_keras(model, tmp_path / "m.keras"), "cnn")
    predictor = load_predictor("m", tmp_path)
    assert predictor.family == "cnn" and predictor.size == 32
    after = predictor.predict(images, batch_size=10)  # several batches, one partial
    assert after.dtype == np.float32 and after.shape == (24,)
    np.testing.assert_allclose(after, before, atol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.keras"]  # no temp files


def test_keras_file_has_no_optimizer_state(tmp_path):
    import zipfile

    import h5py

    from core.models.deep import build_model

    model = build_model("lenet")
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(_images(8).astype(np.float32), np.zeros(8), verbose=0)
    path = save_keras(model, tmp_path / "m.keras")
    with zipfile.ZipFile(path) as archive, archive.open("model.weights.h5") as weights:
        assert "optimizer" not in h5py.File(weights, "r")
    reloaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    for a, b in zip(reloaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def _fitted_pipeline():
    from core.analysis.features import flatten
    from core.models.classical import CLASSICAL

    rng = np.random.default_rng(0)
    images = _images(40)
    labels = rng.integers(0, 2, 40)
    images[labels == 1] //= 2
    model = CLASSICAL["logreg"].build(0)
    model.fit(flatten(images), labels)
    return model, images


def test_sklearn_round_trip(tmp_path):
    from core.analysis.features import flatten

    model, images = _fitted_pipeline()
    before = model.predict_proba(flatten(images))[:, 1].astype(np.float32)
    _register(save_sklearn(model, tmp_path / "s.skops"), "classical")
    after = load_predictor("s", tmp_path).predict(images, batch_size=16)
    np.testing.assert_array_equal(after, before)


def _flip_byte(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def test_tampered_files_refused(tmp_path):
    from core.models.deep import build_model

    model, _ = _fitted_pipeline()
    skops_path = save_sklearn(model, tmp_path / "s.skops")
    keras_path = save_keras(build_model("lenet"), tmp_path / "k.keras")
    _register(skops_path, "classical")
    _register(keras_path, "cnn")
    for path in (skops_path, keras_path):
        _flip_byte(path, path.stat().st_size // 2)
        with pytest.raises(ValueError, match="does not match the sha256"):
            load_predictor(path.stem, tmp_path)
    # an intact file whose report names another digest
    fresh = save_sklearn(model, tmp_path / "t.skops")
    write_report({"name": "t", "family": "classical", "file": fresh.name, "sha256": "0" * 64},
                 tmp_path)
    with pytest.raises(ValueError, match="t.skops does not match"):
        load_predictor("t", tmp_path)


def _custom_scale(x):
    return x * 2


def test_untrusted_skops_types_refused(tmp_path):
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    model = make_pipeline(FunctionTransformer(_custom_scale), GaussianNB())
    model.fit(np.random.default_rng(0).random((10, 3)), [0, 1] * 5)
    _register(save_sklearn(model, tmp_path / "evil.skops"), "classical")
    with pytest.raises(ValueError, match="contains types that are not trusted:.*_custom_scale"):
        load_predictor("evil", tmp_path)


def test_missing_report(tmp_path):
    with pytest.raises(FileNotFoundError, match="no report for model 'ghost'"):
        load_predictor("ghost", tmp_path)


def test_interrupted_keras_save_keeps_old_file(tmp_path, monkeypatch):
    from core.models.deep import build_model

    model = build_model("lenet")
    path = save_keras(model, tmp_path / "m.keras")
    old = path.read_bytes()

    def half_save(self, target, *args, **kwargs):
        Path(target).write_bytes(old[:100])  # a partial write, then the crash
        raise RuntimeError("disk full")

    monkeypatch.setattr(keras.Model, "save", half_save)
    with pytest.raises(RuntimeError, match="disk full"):
        save_keras(model, path)
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]
    monkeypatch.undo()

    def no_rename(*args):
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError, match="rename failed"):
        save_keras(model, path)
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]


def test_interrupted_sklearn_save_keeps_old_file(tmp_path, monkeypatch):
    import core.data.files

    model, _ = _fitted_pipeline()
    path = save_sklearn(model, tmp_path / "s.skops")
    old = path.read_bytes()
    model.fit(*_shifted(model))  # different coefficients -> different bytes

    def crash(*args):
        raise OSError("power cut")

    for target in ("fsync", "replace"):  # after the bytes are written; at the rename
        with monkeypatch.context() as m:
            m.setattr(core.data.files.os, target, crash)
            with pytest.raises(OSError, match="power cut"):
                save_sklearn(model, path)
        assert path.read_bytes() == old
        assert [p.name for p in tmp_path.iterdir()] == ["s.skops"]
    save_sklearn(model, path)  # and it works again afterwards
    assert path.read_bytes() != old


def _shifted(model):
    from core.analysis.features import flatten

    rng = np.random.default_rng(5)
    images = _images(40, seed=100)
    return flatten(images), rng.integers(0, 2, 40)


# --- command line -----------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_train_then_evaluate(data_dir, tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    result = run_cli("train", "naive_bayes", "--data", data_dir, "--models-dir", out,
                     cache_dir=cache)
    assert result.returncode == 0, result.stderr
    assert "naive_bayes: test accuracy" in result.stdout
    assert f"-> {out / 'naive_bayes.skops'}" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "leaderboard.json", "naive_bayes.json", "naive_bayes.skops", "test_scores.json"]
    report = read_report("naive_bayes", out)
    assert report["training"]["command"].startswith("python -m core train naive_bayes --data")
    accuracy = report["metrics"]["test"]["at_threshold"]["accuracy"]
    assert f"test accuracy {accuracy:.4f}" in result.stdout
    assert any(p.name.endswith("-32-v1") for p in cache.iterdir())  # CIFAKE_CACHE honoured

    result = run_cli("evaluate", "--all", "--data", data_dir, "--models-dir", out,
                     cache_dir=cache)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"naive_bayes      test acc {accuracy:.4f}")
    assert read_report("naive_bayes", out)["metrics"]["test"]["at_threshold"]["accuracy"] == \
        accuracy
    assert [r["name"] for r in json.loads((out / "leaderboard.json").read_text())] == \
        ["naive_bayes"]

    # the older spellings (a positional name, --models for the folder) still work, with a note
    result = run_cli("evaluate", "naive_bayes", "--data", data_dir, "--models", out,
                     "--size", 16, cache_dir=cache)
    assert result.returncode == 2
    assert "note: model names as arguments is deprecated and will be removed; use --model NAME" \
        in result.stderr
    assert "note: --models is deprecated and will be removed; use --models-dir" in result.stderr
    assert "error: model 'naive_bayes' takes 32x32 images, the dataset was loaded at 16x16" \
        in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_cli_train_missing_data(tmp_path):
    result = run_cli("train", "lenet", "--data", "/nonexistent", "--out", tmp_path / "out",
                     cache_dir=tmp_path / "cache")
    assert result.returncode == 2
    assert "note: --out is deprecated and will be removed; use --models-dir" in result.stderr
    assert "error: No file or folder at /nonexistent" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "out").exists()
