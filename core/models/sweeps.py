"""The reference study's CNN experiments and learning curves, written to ``models/sweeps.json``.

- ``cnn``: conv blocks x dense layers x neurons (one seed), then L2 strength and dropout on the
  best of those (several seeds each, since their differences are small);
- ``curves``: accuracy against the share of the training split, for the reference CNN and the
  flagship architecture.

Every run trains with ``core.models.quicktrain`` on the same fixed samples (a stratified
training subset, a fixed validation sample, the leak-free test set); a point's seed spread is
the standard deviation over its seeds. Each finished run is written at once (atomically), and a
run already in the file with the same settings and data is not repeated, so an interrupted
sweep continues where it stopped.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.data.dataset import Dataset
from core.models.artifacts import MODELS_DIR, read_json, write_json
from core.models.evaluate import hardware
from core.models.knobs import REFERENCE, Knobs, describe
from core.models.quicktrain import TrainSettings, make_split

__all__ = ["DEFAULT_CURVES", "FILE", "REFERENCE_STUDY", "CnnPlan", "CurvePlan", "curve_summary",
           "points", "read_sweeps", "run_cnn_sweep", "run_curves"]

FILE = "sweeps.json"
# what the reference study reported (accuracy on the CIFAKE test set)
REFERENCE_STUDY = {
    "architecture": {"best_above": 0.89, "worst_below": 0.81},
    "l2": "accuracy dropped sharply as L2 grew from 0.001 to 0.1",
    "dropout": "dropout 0.2 kept accuracy above 0.89",
    "source": "reference study (conv x dense x neurons, then L2 and dropout on the best CNN)",
}


@dataclass(frozen=True)
class CnnPlan:
    """The grids of ``python -m core sweep cnn`` and the sample they train on."""

    conv: tuple[int, ...] = (1, 2, 3)
    dense: tuple[int, ...] = (0, 1, 2)
    neurons: tuple[int, ...] = (32, 128)
    l2: tuple[float, ...] = (0.0, 1e-3, 1e-2, 1e-1)
    dropout: tuple[float, ...] = (0.0, 0.2, 0.5)
    seeds: int = 3  # for the L2 and dropout points
    n_train: int = 10_000
    n_val: int = 2000
    epochs: int = 3
    batch_size: int = 64


@dataclass(frozen=True)
class CurvePlan:
    """The points of ``python -m core sweep curves``: each architecture trained on shares of the
    training split, every point of an architecture seeing the same number of training images
    (its budget) over all its epochs, at least one: more epochs on less data, so a curve
    compares data at equal compute. Early stopping after ``patience`` epochs keeps small shares
    from overfitting."""

    fractions: dict[str, tuple[float, ...]]
    budgets: dict[str, int]
    patience: int = 10
    n_val: int = 2000
    batch_size: int = 64

    def epochs(self, model: str, n_train: int) -> int:
        """Epochs that show ``n_train`` images about the model's budget in all."""
        return max(1, round(self.budgets[model] / n_train))


DEFAULT_CURVES = CurvePlan(
    fractions={"reference_cnn": (0.01, 0.03, 0.1, 0.3, 1.0), "flagship": (0.01, 0.03, 0.1, 0.3)},
    # the reference CNN: one pass over the whole split per point (1-2.5 minutes on 2 cores); the
    # flagship trains at about 35 images/s there, so one pass over 10 % per point (4-6 minutes;
    # 30 % is one epoch, 11.5), and its whole-split point is the shipped model
    budgets={"reference_cnn": 90_000, "flagship": 9_000})


def read_sweeps(models_dir: str | os.PathLike = MODELS_DIR) -> dict:
    """``models/sweeps.json`` ({} before any sweep)."""
    return read_json(FILE, models_dir) or {}


def _save(section: str, content: dict, models_dir) -> None:
    sweeps = read_sweeps(models_dir)
    sweeps[section] = content
    write_json(sweeps, FILE, models_dir)


def _train_one(build: Callable, settings: TrainSettings, split) -> dict:
    """Train one model on ``split``; its validation and test accuracy, AUROC, time."""
    from core.models.quicktrain import fit, score

    model = build()
    record = fit(model, settings, split, every=50, checks_per_epoch=1)
    test = score(model, split.x_test, split.y_test)
    return {"val_accuracy": round(record["val_accuracy"], 5),
            "test_accuracy": round(test["accuracy"], 5), "test_auroc": round(test["auroc"], 5),
            "epochs_run": record["epochs_run"], "best_epoch": record["best_epoch"],
            "params": int(model.count_params()), "seconds": record["seconds"]}


def _key(*parts) -> str:
    return json.dumps(parts, sort_keys=True, default=str)


def points(runs: list[dict], experiment: str) -> list[dict]:
    """One row per setting of an experiment: the mean and standard deviation over its seeds
    of validation and test accuracy, and the number of seeds."""
    groups: dict[str, list[dict]] = {}
    for run in runs:
        if experiment in run["experiments"]:
            groups.setdefault(_key(run["knobs"]), []).append(run)
    rows = []
    for group in groups.values():
        row = {"knobs": group[0]["knobs"], "label": group[0]["label"],
               "params": group[0]["params"], "seeds": len(group)}
        for metric in ("val_accuracy", "test_accuracy", "test_auroc"):
            values = np.array([r[metric] for r in group])
            row[metric] = round(float(values.mean()), 5)
            row[f"{metric}_std"] = round(float(values.std()), 5)
        rows.append(row)
    return rows


def run_cnn_sweep(dataset: Dataset, plan: CnnPlan, *, command: str = "",
                  models_dir: str | os.PathLike = MODELS_DIR,
                  log: Callable[[str], None] = print) -> dict:
    """Run (or continue) the architecture grid, then L2 and dropout on its best point by
    validation accuracy; returns the ``cnn`` section of ``models/sweeps.json``."""
    from core.models.knobs import build_from_knobs

    split = make_split(dataset, plan.n_train, n_val=plan.n_val)
    previous = read_sweeps(models_dir).get("cnn", {})
    same_data = previous.get("fingerprint") == dataset.fingerprint and \
        previous.get("split") == split.info
    done = {r["key"]: r for r in previous.get("runs", [])} if same_data else {}
    section: dict[str, Any] = {
        "title": "CNN hyperparameters: conv blocks x dense layers x neurons, then L2 and dropout "
                 "on the best",
        "fingerprint": dataset.fingerprint, "split": split.info,
        "plan": {k: v for k, v in plan.__dict__.items()}, "command": command,
        "hardware": hardware(), "reference": REFERENCE_STUDY, "runs": [],
        "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    runs: dict[str, dict] = {}

    def run(knobs: Knobs, seed: int, experiment: str) -> dict:
        settings = TrainSettings(epochs=plan.epochs, batch_size=plan.batch_size,
                                 n_train=plan.n_train, seed=seed)
        key = _key(knobs.as_dict(), settings.as_dict())
        if key not in runs:
            result = done.get(key) or {
                "key": key, "knobs": knobs.as_dict(), "label": describe(knobs), "seed": seed,
                "settings": settings.as_dict(), "experiments": [],
                **_train_one(lambda: build_from_knobs(knobs), settings, split)}
            runs[key] = {**result, "experiments": []}
            log(f"{describe(knobs)}, seed {seed}: val {result['val_accuracy']:.4f}, "
                f"test {result['test_accuracy']:.4f} ({result['seconds']:.0f} s)"
                + (" [from the file]" if key in done else ""))
        if experiment not in runs[key]["experiments"]:
            runs[key]["experiments"].append(experiment)
        section["runs"] = list(runs.values())
        section["points"] = {e: points(section["runs"], e)
                             for e in ("architecture", "l2", "dropout")}
        _save("cnn", section, models_dir)
        return runs[key]

    # without a dense layer the neurons do not matter: one run
    grid = [Knobs(conv_blocks=c, dense_layers=d, neurons=n) for c in plan.conv
            for d in plan.dense for n in (plan.neurons if d else plan.neurons[-1:])]
    for knobs in grid:
        run(knobs, 0, "architecture")
    best = max(points(section["runs"], "architecture"), key=lambda p: p["val_accuracy"])
    section["best_architecture"] = best["knobs"]
    base = Knobs(**best["knobs"])
    for seed in range(plan.seeds):
        for l2 in plan.l2:
            run(Knobs(**{**base.as_dict(), "l2": l2}), seed, "l2")
        for dropout in plan.dropout:
            run(Knobs(**{**base.as_dict(), "dropout": dropout}), seed, "dropout")
    section["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    section["total_seconds"] = round(sum(r["seconds"] for r in section["runs"]), 1)
    _save("cnn", section, models_dir)
    return section


def run_curves(dataset: Dataset, plan: CurvePlan = DEFAULT_CURVES, *, command: str = "",
               models_dir: str | os.PathLike = MODELS_DIR,
               log: Callable[[str], None] = print) -> dict:
    """Run (or continue) the learning curves; returns the ``curves`` section of
    ``models/sweeps.json``. Points of the same data outside ``plan`` (another model or share)
    stay in the file; a point inside it is replaced when its settings changed."""
    from core.models.deep import build_model
    from core.models.knobs import build_from_knobs
    from core.models.quicktrain import train_pool

    previous = read_sweeps(models_dir).get("curves", {})
    kept = previous.get("runs", []) if previous.get("fingerprint") == dataset.fingerprint else []
    done = {r["key"]: r for r in kept}
    pool = train_pool(dataset)
    section: dict[str, Any] = {
        "title": "Learning curves: accuracy against the share of the training split",
        "fingerprint": dataset.fingerprint, "n_train_pool": pool,
        "command": command, "hardware": hardware(),
        "runs": [r for r in kept if r["fraction"] not in plan.fractions.get(r["model"], ())],
        "shipped": _shipped(models_dir), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    builders = {"reference_cnn": lambda: build_from_knobs(REFERENCE),
                "flagship": lambda: build_model("flagship")}
    for model, fractions in plan.fractions.items():
        for fraction in fractions:
            n_train = max(2, round(pool * fraction))
            epochs = plan.epochs(model, n_train)
            settings = TrainSettings(epochs=epochs, batch_size=plan.batch_size, n_train=n_train,
                                     patience=min(epochs, plan.patience))
            key = _key(model, fraction, settings.as_dict(), plan.n_val)
            result = done.get(key)
            if result is None:
                split = make_split(dataset, n_train, n_val=plan.n_val)
                result = {"key": key, "model": model, "fraction": fraction,
                          "n_train": split.info["n_train"], "epochs": epochs,
                          "split": split.info, **_train_one(builders[model], settings, split)}
            result = {**result, "budget": plan.budgets[model]}
            log(f"{model} on {fraction:.0%} ({result['n_train']:,} images, "
                f"{result['epochs_run']} of {epochs} epochs): test {result['test_accuracy']:.4f} "
                f"({result['seconds']:.0f} s)" + (" [from the file]" if key in done else ""))
            section["runs"].append(result)
            section["runs"].sort(key=lambda r: (r["model"] != "reference_cnn", r["fraction"]))
            _save("curves", section, models_dir)
    section["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    _save("curves", section, models_dir)
    return section


def curve_summary(section: dict, within: float = 0.01) -> dict[str, dict]:
    """Per architecture in a ``curves`` section: its points by training-set size (``rows``);
    ``equal``, those at equal compute (the shares whose single epoch fits the budget; all when
    none does); among them the best point and ``enough``: the smallest training set within
    ``within`` of the best's test accuracy (how much data the task needs at that compute)."""
    summary = {}
    for model in dict.fromkeys(r["model"] for r in section.get("runs", [])):
        rows = sorted((r for r in section["runs"] if r["model"] == model),
                      key=lambda r: r["n_train"])
        equal = [r for r in rows if r["n_train"] <= 1.5 * r.get("budget", r["n_train"])] or rows
        best = max(equal, key=lambda r: r["test_accuracy"])
        enough = next(r for r in equal if r["test_accuracy"] >= best["test_accuracy"] - within)
        summary[model] = {"rows": rows, "equal": equal, "best": best, "enough": enough}
    return summary


def _shipped(models_dir) -> list[dict]:
    """The shipped reference CNN and flagship trained on the whole training split (their
    reports' leak-free test accuracy), marked with where and how they were trained."""
    rows = []
    for name in ("reference_cnn", "flagship"):
        report = read_json(f"{name}.json", models_dir)
        if not report or not report.get("metrics"):
            continue
        training, leakfree = report.get("training") or {}, report["metrics"]["leakfree_test"]
        rows.append({"model": name, "fraction": 1.0, "n_train": report["split"]["n_train"],
                     "epochs": training.get("epochs"),
                     "test_accuracy": leakfree["at_threshold"]["accuracy"],
                     "test_auroc": leakfree["roc_auc"],
                     "hardware": training.get("hardware"), "command": training.get("command"),
                     "note": "the shipped model: its own training recipe, full train split"})
    return rows
