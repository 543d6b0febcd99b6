"""The Training lab: the CNN built from knobs, the background runner, the sweep writer and the
page (AppTest), all on tiny generated data."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from helpers import REPO_ROOT, cifake_files, watch_until_finished, write_zip
from streamlit.testing.v1 import AppTest

keras = pytest.importorskip("keras")

from core.data.dataset import load_dataset  # noqa: E402
from core.labs.training import Runner, name_problem, save_run  # noqa: E402
from core.models.knobs import REFERENCE, Knobs, build_from_knobs, describe  # noqa: E402
from core.models.quicktrain import TrainSettings  # noqa: E402

TINY = Knobs(conv_blocks=2, filters=4, dense_layers=1, neurons=8)


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    """60 separable JPEGs per split and label (6 per class): enough for a stratified sample."""
    path = write_zip(tmp_path_factory.mktemp("lab") / "tiny.zip", cifake_files(60, separable=True))
    return load_dataset(path, cache_dir=None)


@pytest.mark.parametrize("knobs, size, params", [
    (REFERENCE, 32, 355_649),  # the student reports' CNN (core.models.deep.build_reference_cnn)
    # conv 3x3x3x32 + 32, flatten 30*30*32, output
    (Knobs(conv_blocks=1, dense_layers=0), 32, 896 + 30 * 30 * 32 + 1),
    # 32 -> 30 -> 15 -> 13 -> 6 -> 4 -> 2 -> 2 (a 2-pixel grid keeps its size): 2*2*256 features
    (Knobs(conv_blocks=4, dense_layers=2, neurons=64), 32,
     896 + 18_496 + 73_856 + 295_168 + (1024 * 64 + 64) + (64 * 64 + 64) + 65),
    (Knobs(conv_blocks=2, filters=8, dense_layers=1, neurons=16), 16,
     224 + 1168 + (5 * 5 * 16 * 16 + 16) + 17),  # 16 -> 14 -> 7 -> 5
])
def test_parameter_counts_of_knob_built_models(knobs, size, params):
    model = build_from_knobs(knobs, size)
    assert model.count_params() == params
    names = [layer.name for layer in model.layers]
    assert "last_conv" in names and "features" in names
    assert model.output_shape == (None, 1)


def test_a_keras_reset_while_building_in_the_background_changes_no_name(monkeypatch):
    # Streamlit clears Keras's session (its automatic layer names, in every thread) after each
    # script run; a Training lab run builds its model in a thread meanwhile
    pooling_init = keras.layers.MaxPooling2D.__init__

    def reset_then_init(self, *args, **kwargs):
        keras.backend.clear_session(free_memory=False)
        pooling_init(self, *args, **kwargs)

    monkeypatch.setattr(keras.layers.MaxPooling2D, "__init__", reset_then_init)
    model = build_from_knobs(Knobs(conv_blocks=3, dense_layers=2, dropout=0.2))
    names = [layer.name for layer in model.layers]
    assert len(names) == len(set(names))
    assert names[2:5] == ["conv_1", "pool_1", "conv_2"]


def test_regularisation_knobs_add_dropout_and_l2_without_parameters():
    plain = build_from_knobs(REFERENCE)
    regular = build_from_knobs(Knobs(l2=0.01, dropout=0.2))
    assert regular.count_params() == plain.count_params()
    assert sum(isinstance(layer, keras.layers.Dropout) for layer in regular.layers) == 2
    assert len(regular.losses) == 5  # one L2 penalty per kernel (3 conv, 2 dense)
    assert describe(Knobs(l2=0.01, dropout=0.2)) == \
        "3 conv (32-64-128) + 1x128 dense, L2 0.01, dropout 0.2"
    with pytest.raises(ValueError, match="conv_blocks"):
        Knobs(conv_blocks=5)


@pytest.mark.slow
def test_runner_queues_reports_progress_stops_with_best_weights_and_scores(tiny_dataset):
    runner = Runner(slots=1, n_test=40, every=1, heartbeat_timeout=600)
    settings = TrainSettings(epochs=2, batch_size=8, n_train=100)
    first = runner.start(TINY, settings, tiny_dataset)
    endless = TrainSettings(epochs=50, batch_size=8, n_train=100, patience=50)
    second = runner.start(TINY, endless, tiny_dataset)
    time.sleep(0.1)
    assert second.state == "queued" and runner.queue_position(second) == 1
    first.join(120)
    assert first.state == "done"
    events = first.events
    assert [e["step"] for e in events] == sorted(e["step"] for e in events)
    assert events[-1]["step"] == events[-1]["steps"] == 2 * events[-1]["steps_per_epoch"]
    assert events[-1]["eta"] == 0 and events[-1]["val_accuracy"] is not None
    result = first.result
    assert result["n_test"] == 40 and sum(map(sum, result["confusion"])) == 40
    assert 0 <= result["test_accuracy"] <= 1 and result["test_auroc"] is not None
    assert len(result["gradcam"]) == 4 and result["gradcam"][0]["heat"].shape == (32, 32)
    # Stop mid-run: the second run ends early with the weights of its best validation check
    while len(second.events) < 15:  # it left the queue when the first run ended
        time.sleep(0.05)
    assert runner.queue_position(second) is None
    second.stop()
    second.join(60)
    assert second.state == "stopped" and second.result["epochs_run"] < 50
    best = min((e for e in second.events if e["val_loss"] is not None),
               key=lambda e: e["val_loss"])
    assert second.result["val_loss"] == pytest.approx(best["val_loss"])
    # a run nobody watches (no heartbeat) stops by itself
    runner.heartbeat_timeout = 0.5
    orphan = runner.start(TINY, endless, tiny_dataset)
    orphan.join(60)
    assert orphan.finished and orphan.state in ("stopped", "cancelled")


def test_saving_a_run_evaluates_it_and_never_overwrites(tiny_dataset, tmp_path):
    runner = Runner(slots=1, n_test=40, heartbeat_timeout=600)
    run = runner.start(TINY, TrainSettings(epochs=1, batch_size=16, n_train=100), tiny_dataset)
    run.join(120)
    report = save_run(run, "lab_cnn", tiny_dataset, models_dir=tmp_path)
    assert report["metrics"]["test"]["n"] == 120 and report["knobs"] == TINY.as_dict()
    assert json.loads((tmp_path / "leaderboard.json").read_text())[0]["name"] == "lab_cnn"
    assert "already exists" in name_problem("lab_cnn", tmp_path)
    assert name_problem("Bad Name!", tmp_path) and name_problem("new_one", tmp_path) is None
    with pytest.raises(ValueError, match="already exists"):
        save_run(run, "lab_cnn", tiny_dataset, models_dir=tmp_path)


@pytest.mark.slow
def test_sweep_writer_on_a_tiny_slice(tiny_dataset, tmp_path, monkeypatch):
    from core.models import sweeps

    plan = sweeps.CnnPlan(conv=(1,), dense=(0,), neurons=(8,), l2=(0.0, 0.01),
                          dropout=(0.0,), seeds=2, n_train=40, n_val=20, epochs=1,
                          batch_size=40)
    section = sweeps.run_cnn_sweep(tiny_dataset, plan, command="python -m core sweep cnn ...",
                                   models_dir=tmp_path, log=lambda line: None)
    written = json.loads((tmp_path / "sweeps.json").read_text())["cnn"]
    assert written["runs"] == json.loads(json.dumps(section["runs"]))
    # 1 architecture; then seeds 0 and 1 of L2 0 and 0.01 on it (its seed 0 is shared, as is
    # dropout 0 with L2 0)
    assert len(written["runs"]) == 1 + 3
    assert {p["knobs"]["l2"]: p["seeds"] for p in written["points"]["l2"]} == {0.0: 2, 0.01: 2}
    point = next(p for p in written["points"]["l2"] if p["knobs"]["l2"] == 0.01)
    values = [r["test_accuracy"] for r in written["runs"] if r["knobs"]["l2"] == 0.01]
    assert point["test_accuracy"] == pytest.approx(np.mean(values), abs=1e-5)
    assert point["test_accuracy_std"] == pytest.approx(np.std(values), abs=1e-5)
    assert written["split"]["n_test"] == written["split"]["n_leakfree_test"]
    assert written["command"] and written["hardware"] and written["total_seconds"] > 0
    # a second call finds every run in the file and trains nothing
    monkeypatch.setattr(sweeps, "_train_one", lambda *a: pytest.fail("retrained"))
    again = sweeps.run_cnn_sweep(tiny_dataset, plan, models_dir=tmp_path, log=lambda line: None)
    assert [r["key"] for r in again["runs"]] == [r["key"] for r in written["runs"]]


def test_batchnorm_recalibration_sets_running_statistics_to_the_sample():
    from core.models.quicktrain import recalibrate_batchnorm

    inputs = keras.Input((4, 4, 2))
    norm = keras.layers.BatchNormalization(momentum=0.99)
    model = keras.Model(inputs, keras.layers.Dense(1)(norm(inputs)))
    x = np.random.default_rng(0).uniform(0, 255, (16, 4, 4, 2)).astype(np.uint8)
    assert recalibrate_batchnorm(model, x)
    pixels = x.astype(np.float64).reshape(-1, 2)
    np.testing.assert_allclose(norm.moving_mean.numpy(), pixels.mean(0), rtol=1e-4)
    np.testing.assert_allclose(norm.moving_variance.numpy(), pixels.var(0), rtol=1e-3)
    assert norm.momentum == 0.99  # restored
    assert not recalibrate_batchnorm(build_from_knobs(TINY), np.zeros((1, 32, 32, 3)))  # none


def test_curves_writer_gives_each_point_the_same_budget_and_keeps_other_points(
        tiny_dataset, tmp_path, monkeypatch):
    from core.models import sweeps

    trained = []

    def train_one(build, settings, split):  # records the settings; no real training needed
        trained.append(settings)
        return {"val_accuracy": 0.5, "test_accuracy": 0.5, "test_auroc": 0.5,
                "epochs_run": settings.epochs, "best_epoch": 1, "params": 1, "seconds": 0.1}

    monkeypatch.setattr(sweeps, "_train_one", train_one)
    run = lambda plan: sweeps.run_curves(tiny_dataset, plan, models_dir=tmp_path,  # noqa: E731
                                         log=lambda line: None)
    plan = sweeps.CurvePlan(fractions={"reference_cnn": (0.25, 1.0)},
                            budgets={"reference_cnn": 200}, patience=3, n_val=20)
    section = run(plan)
    requested = [round(section["n_train_pool"] * f) for f in (0.25, 1.0)]
    assert [r["fraction"] for r in section["runs"]] == [0.25, 1.0]
    # more epochs on less data: every point sees about `budget` training images
    assert [s.n_train for s in trained] == requested
    assert [s.epochs for s in trained] == [round(200 / n) for n in requested] == [7, 2]
    assert [s.patience for s in trained] == [3, 2]
    # another model's point is added beside them, and a changed point replaces its old run
    run(sweeps.CurvePlan(fractions={"flagship": (1.0,)}, budgets={"flagship": 200}, n_val=20))
    run(sweeps.CurvePlan(fractions={"reference_cnn": (1.0,)}, budgets={"reference_cnn": 400},
                         n_val=20))
    written = json.loads((tmp_path / "sweeps.json").read_text())["curves"]
    assert [(r["model"], r["fraction"], r["epochs"]) for r in written["runs"]] == [
        ("reference_cnn", 0.25, 7), ("reference_cnn", 1.0, 4), ("flagship", 1.0, 2)]
    assert [r["budget"] for r in written["runs"]] == [200, 400, 200]
    assert len(trained) == 4  # nothing already in the file was trained again


def test_curve_summary_finds_the_data_needed_at_equal_compute():
    from core.models.sweeps import curve_summary

    runs = [{"model": "m", "n_train": n, "budget": 1000, "test_accuracy": acc}
            for n, acc in ((1000, 0.885), (100, 0.80), (3000, 0.95), (300, 0.89))]
    curve = curve_summary({"runs": runs})["m"]
    assert [r["n_train"] for r in curve["rows"]] == [100, 300, 1000, 3000]
    # 3,000 images cost three budgets (one epoch at least): not compared
    assert curve["best"]["n_train"] == 300 and curve["enough"]["n_train"] == 300
    assert curve_summary({"runs": runs}, within=0.1)["m"]["enough"]["n_train"] == 100


def open_page(data_path: str) -> AppTest:
    at = AppTest.from_file(str(REPO_ROOT / "streamlit_app.py"), default_timeout=120)
    at.session_state["data_path"] = data_path
    at.run()
    at.switch_page("pages/training.py")
    return at.run()


@pytest.mark.slow
def test_the_page_shows_the_committed_sweeps_and_curves(tmp_path):
    at = open_page(str(tmp_path))  # no dataset: the sweeps still show
    assert not at.exception
    assert at.title[0].value == "Training lab"
    committed = json.loads((REPO_ROOT / "models" / "sweeps.json").read_text())
    markdown = " ".join(m.value for m in at.markdown)
    assert f"{committed['cnn']['split']['n_train']:,}" in markdown
    assert "What it shows" in markdown and "reference study" in markdown
    assert "Reproduce with `python -m core sweep cnn`" in " ".join(c.value for c in at.caption)
    assert len(at.get("plotly_chart")) >= 3 + bool(committed.get("curves"))


@pytest.mark.slow
def test_the_page_trains_a_tiny_model(tiny_dataset):
    at = open_page(tiny_dataset.source)
    for key, value in {"conv": 2, "filters": 8, "dense": 1, "neurons": 16,
                       "epochs": 1, "batch": 32}.items():
        at.session_state[key] = value
    at.run()
    next(b for b in at.button if b.label == "Start").click()
    at.run()
    assert not at.exception
    run = at.session_state["tl_runs"][0]
    watch_until_finished(run)
    at.run()
    assert not at.exception
    assert run.state == "done"
    shown = {m.label: m.value for m in at.metric}
    assert shown["Test accuracy"] == f"{100 * run.result['test_accuracy']:.1f} %"
    assert any("run 1" in str(v) or "run " in str(v) for v in at.dataframe[0].value["model"])
