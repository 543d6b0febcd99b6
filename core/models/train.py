"""Train a model on CIFAKE (or any REAL/FAKE folder) and write it with its report
(``python -m core train``).

The model is a Keras model (``core.models.deep.BUILDERS``), a keras.applications backbone
(``core.models.deep.BACKBONES``) or a classical model (``core.models.classical.CLASSICAL``).
Training uses the train split with a fixed, seeded, stratified 90/10 train/validation split;
early stopping on validation loss restores the best epoch. The model is then evaluated by the
shared harness (``core.models.evaluate``), which also fits its score calibration and chooses its
decision threshold on the validation set.

A Keras run keeps a checkpoint (weights, optimizer state, epoch, history) in
``data/checkpoints/NAME`` after every epoch; ``--resume`` continues an interrupted run from it, so
a long schedule can be run in several parts. ``--teacher`` distils a trained model into this one:
the target of each (augmented) image is the mean of its label and the teacher's P(FAKE).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.analysis.features import flatten
from core.data.dataset import Dataset, train_val_rows
from core.data.files import write_atomic
from core.data.sources import REPO_ROOT, stratified_split
from core.models.artifacts import (
    MODELS_DIR,
    read_report,
    save_keras,
    save_sklearn,
    sha256,
    write_report,
)
from core.models.augment import augment_batch
from core.models.classical import CLASSICAL
from core.models.evaluate import evaluate_model, hardware
from core.models.references import MODEL_REFERENCES, REFERENCES

__all__ = ["CHECKPOINT_DIR", "TrainConfig", "batches", "fit_keras", "train"]

CHECKPOINT_DIR = Path(os.environ.get("CIFAKE_CHECKPOINTS", REPO_ROOT / "data" / "checkpoints"))
DISTILL_WEIGHT = 0.5  # share of the teacher's P(FAKE) in a distilled target


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved in the model's report)."""

    model: str
    name: str = ""
    epochs: int = 30
    batch_size: int = 128
    learning_rate: float = 2e-3
    augment: tuple[str, ...] = ()
    patience: int = 5
    seed: int = 0
    val_fraction: float = 0.1
    limit: int | None = None  # use at most this many training images (tests, quick trials)
    weights: str | None = None
    init: str | None = None  # a saved model of the same architecture to continue training from
    width: int | None = None  # base width of a widenable architecture (core.models.deep.WIDENABLE)
    label_smoothing: float = 0.0
    weight_decay: float = 5e-4  # AdamW's decoupled decay, scaled by the learning rate
    teacher: str | None = None  # a saved model whose P(FAKE) is distilled into this one
    resume: bool = False  # continue an interrupted run from its checkpoint
    mixed_precision: bool = False
    fakes: tuple[str, ...] = ()  # extra fake sources (core.models.fake_sources) to learn from
    fakes_n: int = 10_000  # training images per extra source (a ninth of it for validation)
    command: str = ""  # the command line that started the run, when there was one
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.name = self.name or self.model
        self.augment = tuple(self.augment)
        self.fakes = tuple(self.fakes)


def train(config: TrainConfig, dataset: Dataset, *,
          models_dir: str | os.PathLike = MODELS_DIR,
          generators_dir: str | os.PathLike | None = None,
          verbose: int = 1) -> dict:
    """Train, save the model and its report atomically, evaluate it; returns the report.
    ``config.fakes`` come from the generators in ``generators_dir`` (default
    ``models/generators``)."""
    if "sd14" in config.fakes:
        raise ValueError("sd14 is CIFAKE's own FAKE set, already in the training images: "
                         "--fakes adds other generators (gan, vae)")
    train_rows, val_rows = train_val_rows(dataset, val_fraction=config.val_fraction,
                                          seed=config.seed, limit=config.limit)
    initial = _initial_state(config.init)
    start = time.perf_counter()
    if config.model in CLASSICAL:
        if config.fakes:
            raise ValueError("extra fake sources (--fakes) train Keras models only")
        path, family, params, history = _train_classical(config, dataset, train_rows,
                                                         models_dir)
    else:
        train_part, val_part = (_with_fakes(config, dataset, rows, part, generators_dir)
                                for rows, part in ((train_rows, "train"), (val_rows, "val")))
        path, family, params, history = _train_keras(config, train_part, val_part,
                                                     dataset.size, models_dir, verbose)
    seconds = time.perf_counter() - start + history.pop("earlier_seconds", 0.0)
    reference = MODEL_REFERENCES.get(config.model)
    report = {
        "name": config.name,
        "family": family,
        "architecture": config.model,
        "params": params,
        "file": path.name,
        "file_mb": round(path.stat().st_size / 2**20, 3),
        "sha256": sha256(path),
        "input_size": dataset.size,
        "data": {"source": Path(dataset.source).name, "fingerprint": dataset.fingerprint},
        "split": {"seed": config.seed, "val_fraction": config.val_fraction,
                  "n_train": int(len(train_rows)), "n_val": int(len(val_rows)),
                  **({"extra_fakes": {"sources": list(config.fakes), "n_train_each": config.fakes_n,
                                      "n_val_each": config.fakes_n // 9}} if config.fakes else {})},
        "training": {**{k: v for k, v in asdict(config).items() if k not in ("name", "notes")},
                     "history": history, "seconds": round(seconds, 1),
                     "hardware": hardware(), "initial": initial},
        "notes": config.notes + ([CLASSICAL[config.model].notes]
                                 if config.model in CLASSICAL else []),
        "reference": ({"test_accuracy": REFERENCES[reference][0],
                       "source": REFERENCES[reference][1]} if reference else None),
    }
    write_report(report, models_dir)
    return evaluate_model(config.name, dataset, models_dir=models_dir)


def _with_fakes(config: TrainConfig, dataset: Dataset, rows: np.ndarray, part: str,
                generators_dir) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of ``rows``, followed by ``config.fakes``' images of ``part``."""
    from core.models.fake_sources import source_images
    from core.models.generators import GENERATORS_DIR

    images, labels = [dataset.images[rows]], [dataset.labels[rows]]
    for source in config.fakes:
        n = config.fakes_n if part == "train" else config.fakes_n // 9
        fakes = source_images(source, dataset, part, n, seed=config.seed,
                              val_fraction=config.val_fraction, limit=config.limit,
                              generators_dir=generators_dir or GENERATORS_DIR)
        images.append(fakes)
        labels.append(np.ones(len(fakes), dtype=labels[0].dtype))
    return np.concatenate(images), np.concatenate(labels)


def _initial_state(init: str | None) -> dict | None:
    """What a continued run starts from: the file's sha256 and, when its report sits beside
    it, that earlier run's training record."""
    if not init:
        return None
    path = Path(init)
    state: dict[str, Any] = {"file": path.name, "sha256": sha256(path)}
    if path.with_suffix(".json").exists():
        state["training"] = read_report(path.stem, path.parent).get("training")
    return state


def _train_classical(config, dataset, train_rows, models_dir):
    spec = CLASSICAL[config.model]
    rows = train_rows
    if spec.max_train is not None and len(rows) > spec.max_train:
        keep = stratified_split(dataset.labels[rows], dataset.classes[rows],
                                spec.max_train / len(rows), seed=config.seed + 2)
        rows = rows[keep]
    model = spec.build(config.seed)
    model.fit(flatten(dataset.images[rows]), dataset.labels[rows])
    path = save_sklearn(model, Path(models_dir) / f"{config.name}.skops")
    history = {"n_fit": int(len(rows))}
    return path, "classical", None, history


def batches(images, labels, batch_size, augment, seed, teacher=None):
    """Shuffled, optionally augmented float32 batches of a uint8 image array (a Keras
    ``PyDataset``, defined here so that Keras loads only when training); with a ``teacher``
    model the targets are distilled (see the module docstring)."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(images))

        def __len__(self):
            return math.ceil(len(images) / batch_size)

        def __getitem__(self, i):
            idx = np.sort(self.order[i * batch_size:(i + 1) * batch_size])
            x = images[idx]
            if augment:
                x = augment_batch(x, augment, self.rng)
            x, y = x.astype(np.float32), labels[idx].astype(np.float32)
            if teacher is not None:
                p = np.asarray(teacher.predict_on_batch(x), dtype=np.float32).reshape(-1)
                y = (1 - DISTILL_WEIGHT) * y + DISTILL_WEIGHT * p
            return x, y

        def on_epoch_end(self):
            self.order = self.rng.permutation(len(images))

    return Batches()


def fit_keras(model, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
              config: TrainConfig, *, callbacks: Sequence = (), teacher=None,
              verbose: int = 1):
    """Compile ``model`` (AdamW, cosine schedule with one warm-up epoch, binary cross-entropy)
    and fit it on uint8 ``train`` images and labels with ``config``'s schedule and augmentation;
    early stopping on ``val`` loss restores the best epoch."""
    import keras

    steps = math.ceil(len(train[0]) / config.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(
        config.learning_rate / 10, decay_steps=steps * config.epochs,
        warmup_target=config.learning_rate, warmup_steps=steps)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay),
                  loss=keras.losses.BinaryCrossentropy(label_smoothing=config.label_smoothing),
                  metrics=["accuracy"])
    model.fit(
        batches(*train, config.batch_size, config.augment, config.seed, teacher),
        validation_data=(val[0].astype(np.float32), val[1].astype(np.float32)),
        epochs=config.epochs, verbose=verbose,
        callbacks=[*callbacks, keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.patience, restore_best_weights=True)],
    )
    return model


def _train_keras(config, train, val, size, models_dir, verbose):
    import keras

    from core.models.deep import BACKBONES, build_model

    keras.utils.set_random_seed(config.seed)
    shape = (size, size, 3)
    checkpoint = _checkpoint_dir(config)
    teacher = (keras.saving.load_model(config.teacher, safe_mode=True, compile=False)
               if config.teacher else None)
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        log = _epoch_log(checkpoint / "history.json")
        with _strategy_scope():
            model = build_model(config.model, shape, config.weights, config.width)
            if config.init:
                initial = keras.saving.load_model(config.init, safe_mode=True, compile=False)
                model.set_weights(initial.get_weights())
            fit_keras(model, train, val, config, teacher=teacher, verbose=verbose, callbacks=[
                keras.callbacks.BackupAndRestore(str(checkpoint / "backup")), log])
    finally:
        keras.mixed_precision.set_global_policy("float32")
    if config.mixed_precision:  # saved models are float32 (Grad-CAM needs it)
        weights = model.get_weights()
        model = build_model(config.model, shape, width=config.width)
        model.set_weights(weights)
    path = save_keras(model, Path(models_dir) / f"{config.name}.keras")
    history = {**log.history(), "earlier_seconds": round(log.earlier_seconds, 1)}
    shutil.rmtree(checkpoint, ignore_errors=True)  # the run is complete
    family = "transfer" if config.model in BACKBONES else "cnn"
    return path, family, int(model.count_params()), history


def _checkpoint_dir(config: TrainConfig) -> Path:
    """The run's checkpoint folder; an unfinished run's checkpoint is only reused with
    ``resume`` and never silently discarded."""
    folder = CHECKPOINT_DIR / config.name
    unfinished = (folder / "history.json").exists()
    if unfinished and not config.resume:
        raise ValueError(f"an unfinished run of {config.name!r} left a checkpoint in {folder}: "
                         "pass --resume to continue it, or delete that folder to start afresh")
    if config.resume and not unfinished:
        raise ValueError(f"--resume: no checkpoint of {config.name!r} in {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _epoch_log(path: Path):
    """A Keras callback keeping per-epoch metrics and wall time in a JSON file beside the
    checkpoint, so that a resumed run's history and training time include the earlier parts."""
    import keras

    class EpochLog(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs = json.loads(path.read_text()) if path.exists() else []
            self.earlier_seconds = sum(e["seconds"] for e in self.epochs)

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            del self.epochs[epoch:]  # an epoch redone after an interruption replaces it
            self.epochs.append({**{k: float(v) for k, v in (logs or {}).items()},
                                "seconds": time.perf_counter() - self.start})
            write_atomic(path, json.dumps(self.epochs))

        def history(self) -> dict:
            keys = [k for k in self.epochs[0] if k != "seconds"] if self.epochs else []
            out: dict[str, Any] = {k: [round(e[k], 5) for e in self.epochs] for k in keys}
            out["best_epoch"] = (int(np.argmin(out["val_loss"])) + 1 if "val_loss" in out
                                 else len(self.epochs))
            out["epoch_seconds"] = [round(e["seconds"], 1) for e in self.epochs]
            return out

    return EpochLog()


def _strategy_scope():
    """A ``tf.distribute.MirroredStrategy`` scope when several GPUs are visible to TensorFlow,
    otherwise a no-op."""
    import contextlib

    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if len(tf.config.list_physical_devices("GPU")) > 1:
            return tf.distribute.MirroredStrategy().scope()
    return contextlib.nullcontext()
