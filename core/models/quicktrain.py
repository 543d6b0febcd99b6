"""Short training runs on a fixed sample of the data, with progress events, a stop switch and
the best weights kept: the engine of the Training lab and of the CNN sweeps.

The sample is drawn from the project's fixed split (``train_val_rows`` with seed 0, the split
``core.models.evaluate`` calibrates on): a stratified subset of its training part, a stratified
validation sample, and the leak-free test set (or a stratified sample of it). The training seed
changes only the initial weights and the batch order, never the sample.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from core.data.dataset import Dataset, train_val_rows
from core.data.imageio import resize_square
from core.data.quality import leakfree_test_mask
from core.data.sources import stratified_split
from core.models.metrics import threshold_metrics

__all__ = ["BN_IMAGES", "OPTIMIZERS", "VAL_FRACTION", "Progress", "Split", "TrainSettings", "fit",
           "make_split", "predict", "recalibrate_batchnorm", "score", "train_pool"]

OPTIMIZERS = ("adam", "rmsprop", "sgd")
SPLIT_SEED = 0  # the project's fixed train/validation split
VAL_FRACTION = 0.1
BN_IMAGES = 256  # training images that set BatchNorm statistics before each validation check


@dataclass(frozen=True)
class TrainSettings:
    """How a model is trained (the architecture is separate)."""

    epochs: int = 3
    batch_size: int = 64
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    augment: tuple[str, ...] = ()
    n_train: int = 5000  # training images: a stratified subset of the training split
    size: int = 32  # image side the model sees
    seed: int = 0  # initial weights and batch order
    patience: int = 2  # epochs without a better validation loss before stopping early

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, not {self.optimizer!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.n_train < 2:
            raise ValueError("epochs, batch size and training images must be positive")
        object.__setattr__(self, "augment", tuple(self.augment))

    def as_dict(self) -> dict:
        return {**asdict(self), "augment": list(self.augment)}


@dataclass
class Split:
    """Images (uint8) and 0/1 labels of one run's training, validation and test samples."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    info: dict = field(default_factory=dict)  # sizes and what the samples are, for reports


def _sample(rows: np.ndarray, dataset: Dataset, n: int | None, seed: int) -> np.ndarray:
    """A stratified (label x class) subset of ``rows`` of about ``n`` rows (all when None)."""
    if n is None or n >= len(rows):
        return rows
    keep = stratified_split(dataset.labels[rows], dataset.classes[rows], n / len(rows), seed=seed)
    return rows[keep]


def train_pool(dataset: Dataset) -> int:
    """How many training images a run can draw at most: the train split less its validation
    share."""
    return int((dataset.splits == 0).sum() * (1 - VAL_FRACTION))


def make_split(dataset: Dataset, n_train: int, *, n_val: int | None = 2000,
               n_test: int | None = None, size: int | None = None) -> Split:
    """The samples of a run: ``n_train`` training and ``n_val`` validation images from the
    fixed split, and ``n_test`` leak-free test images (all when None), resized to ``size``."""
    train_rows, val_rows = train_val_rows(dataset, val_fraction=VAL_FRACTION, seed=SPLIT_SEED)
    train = _sample(train_rows, dataset, n_train, SPLIT_SEED + 11)
    val = _sample(val_rows, dataset, n_val, SPLIT_SEED + 12)
    leakfree = np.flatnonzero(leakfree_test_mask(dataset.hashes, dataset.splits))
    test = _sample(leakfree, dataset, n_test, SPLIT_SEED + 13)
    if min(len(train), len(val), len(test)) == 0:
        raise ValueError("too few images for a training, validation and test sample")
    size = size or dataset.size

    def images(rows):
        x = dataset.images[rows]
        return x if size == dataset.size else np.stack([resize_square(im, size) for im in x])

    info = {"n_train": int(len(train)), "n_train_pool": int(len(train_rows)),
            "n_val": int(len(val)), "n_test": int(len(test)),
            "n_leakfree_test": int(len(leakfree)), "size": int(size),
            "test": "leak-free test set" if len(test) == len(leakfree)
            else "stratified sample of the leak-free test set"}
    return Split(images(train), dataset.labels[train].astype(np.float32),
                 images(val), dataset.labels[val].astype(np.float32),
                 images(test), dataset.labels[test].astype(np.float32), info)


@dataclass(frozen=True)
class Progress:
    """One progress event: running training loss and accuracy of the current epoch, the last
    validation loss and accuracy (None before the first check), time spent and left."""

    epoch: int  # 1-based
    step: int  # batches done since the start
    steps: int  # batches in the whole run
    steps_per_epoch: int
    loss: float
    accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    elapsed: float
    eta: float

    def as_dict(self) -> dict:
        return asdict(self)


def _optimizer(settings: TrainSettings):
    import keras

    return {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop,
            "sgd": lambda lr: keras.optimizers.SGD(lr, momentum=0.9)}[settings.optimizer](
        settings.learning_rate)


def predict(model, x: np.ndarray, batch: int = 512) -> np.ndarray:
    """P(FAKE) of uint8 images."""
    out = [np.asarray(model(x[i:i + batch].astype(np.float32), training=False)).reshape(-1)
           for i in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def recalibrate_batchnorm(model, x: np.ndarray) -> bool:
    """Set the running statistics of every BatchNormalization layer of ``model`` to those of
    the images ``x`` ("precise BN"), so a briefly trained network is judged by its weights
    rather than by running averages still near their initial values. False when the model has
    no such layer (nothing to do)."""
    import keras

    layers = [layer for layer in model.layers
              if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in layers]
    try:
        for layer in layers:
            layer.momentum = 0.0  # the next update replaces the running statistics
        if layers:
            model(x.astype(np.float32), training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    return bool(layers)


def _val_metrics(model, x, y) -> tuple[float, float]:
    p = np.clip(predict(model, x), 1e-7, 1 - 1e-7)
    loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return loss, float(np.mean((p >= 0.5) == (y == 1)))


def fit(model, settings: TrainSettings, split: Split, *,
        on_progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        every: int = 5, checks_per_epoch: int = 4) -> dict:
    """Train ``model`` on ``split``: a progress event every ``every`` batches, the validation
    sample scored ``checks_per_epoch`` times an epoch (BatchNorm statistics re-estimated on
    ``BN_IMAGES`` training images first); stops early after ``patience`` epochs without a better
    validation loss, or as soon as ``should_stop()`` is true. The model ends with the weights of
    its best validation check. Returns the run's record."""
    import keras

    from core.models.train import batches

    keras.utils.set_random_seed(settings.seed)
    model.compile(optimizer=_optimizer(settings), loss="binary_crossentropy",
                  metrics=["accuracy"])
    steps_per_epoch = math.ceil(len(split.x_train) / settings.batch_size)
    steps = steps_per_epoch * settings.epochs
    check_at = {round(steps_per_epoch * (k + 1) / checks_per_epoch) - 1
                for k in range(checks_per_epoch)}
    bn_sample = split.x_train[np.random.default_rng(settings.seed).permutation(
        len(split.x_train))[:BN_IMAGES]]
    state: dict[str, Any] = {"best_loss": math.inf, "best_accuracy": None, "best_step": 0,
                             "weights": None, "val": (None, None), "stopped": False,
                             "best_epoch": 0}
    events: list[dict] = []
    start = time.perf_counter()

    class Watch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            step = self.epoch * steps_per_epoch + batch + 1
            if batch in check_at:
                recalibrate_batchnorm(self.model, bn_sample)
                loss, accuracy = _val_metrics(self.model, split.x_val, split.y_val)
                state["val"] = (loss, accuracy)
                if loss < state["best_loss"]:
                    state.update(best_loss=loss, best_accuracy=accuracy, best_step=step,
                                 best_epoch=self.epoch + 1, weights=self.model.get_weights())
            if batch in check_at or step % every == 0 or step == steps:
                elapsed = time.perf_counter() - start
                val_loss, val_accuracy = state["val"]
                event = Progress(self.epoch + 1, step, steps, steps_per_epoch, float(logs["loss"]),
                                 float(logs["accuracy"]), val_loss, val_accuracy, elapsed,
                                 elapsed / step * (steps - step))
                events.append(event.as_dict())
                if on_progress:
                    on_progress(event)
            if should_stop():
                state["stopped"] = True
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 - state["best_epoch"] >= settings.patience + 1:
                self.model.stop_training = True

    model.fit(batches(split.x_train, split.y_train, settings.batch_size, settings.augment,
                       settings.seed), epochs=settings.epochs, verbose=0, callbacks=[Watch()])
    if state["weights"] is not None:
        model.set_weights(state["weights"])
    return {"events": events, "stopped": state["stopped"],
            "epochs_run": events[-1]["epoch"] if events else 0,
            "best_step": state["best_step"], "best_epoch": state["best_epoch"],
            "val_loss": state["best_loss"] if state["weights"] is not None else None,
            "val_accuracy": state["best_accuracy"],
            "seconds": round(time.perf_counter() - start, 1)}


def score(model, x: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy at P(FAKE) 0.5, AUROC and the confusion matrix ``[[TN, FP], [FN, TP]]``."""
    from sklearn.metrics import roc_auc_score

    p = predict(model, x)
    both = len(np.unique(y)) == 2
    at = threshold_metrics(y, p, 0.5)
    return {"n": int(len(y)), "accuracy": at["accuracy"],
            "auroc": float(roc_auc_score(y, p)) if both else None,
            "confusion": at["confusion"], "p_fake": p}
