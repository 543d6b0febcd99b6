"""Training runs in the background, for the Training lab: each run on its own thread, a fixed
number training at once and the others waiting in a first-come queue, progress events, a stop
switch that keeps the best weights so far, and a heartbeat so that a run whose browser session
went away stops by itself.

A finished run holds its test accuracy and AUROC on a stratified sample of the leak-free test
set, the confusion matrix, Grad-CAM maps of a few test images, and the trained model, which
``save_run`` writes to ``models/`` like any trained model.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.data.dataset import Dataset
from core.models.artifacts import MODELS_DIR, save_keras, sha256, write_report
from core.models.knobs import Knobs, describe
from core.models.quicktrain import Progress, TrainSettings

__all__ = ["HEARTBEAT_TIMEOUT", "Run", "Runner", "name_problem", "save_run"]

HEARTBEAT_TIMEOUT = 12.0  # seconds without a heartbeat before a run stops
N_TEST = 2000  # leak-free test images a finished run is scored on
N_GRADCAM = 4
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_ids = itertools.count(1)


@dataclass(eq=False)
class Run:
    """One training run and everything the page shows about it."""

    knobs: Knobs
    settings: TrainSettings
    id: int = field(default_factory=lambda: next(_ids))
    state: str = "queued"  # queued, preparing, training, done, stopped, cancelled, failed
    events: list[dict] = field(default_factory=list)
    result: dict | None = None
    error: str | None = None
    split_info: dict | None = None
    created: float = field(default_factory=time.time)
    model: Any = None  # the trained keras.Model, once done
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _seen: float = field(default_factory=time.monotonic, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return describe(self.knobs)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "stopped", "cancelled", "failed")

    def stop(self) -> None:
        """Ask the run to stop (a waiting run leaves the queue; a training run ends with its
        best weights so far)."""
        self._stop.set()

    def heartbeat(self) -> None:
        """The page is still watching this run."""
        self._seen = time.monotonic()

    def abandoned(self, timeout: float) -> bool:
        return time.monotonic() - self._seen > timeout

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def latest(self) -> dict | None:
        return self.events[-1] if self.events else None


class Runner:
    """Runs trainings in background threads, ``slots`` at a time, the others queued."""

    def __init__(self, slots: int = 1, heartbeat_timeout: float = HEARTBEAT_TIMEOUT,
                 n_test: int = N_TEST, every: int = 5):
        self.slots = slots
        self.heartbeat_timeout = heartbeat_timeout
        self.n_test = n_test
        self.every = every
        self._lock = threading.Condition()
        self._waiting: list[Run] = []
        self._running: list[Run] = []

    def start(self, knobs: Knobs, settings: TrainSettings, dataset: Dataset) -> Run:
        """Queue a run on ``dataset``; it starts as soon as a slot is free."""
        run = Run(knobs, settings)
        with self._lock:
            self._waiting.append(run)
        run._thread = threading.Thread(target=self._work, args=(run, dataset),
                                       name=f"training-run-{run.id}", daemon=True)
        run._thread.start()
        return run

    def queue_position(self, run: Run) -> int | None:
        """1 for the next run to start, 2 after it...; None when not waiting."""
        with self._lock:
            return self._waiting.index(run) + 1 if run in self._waiting else None

    def busy(self) -> int:
        """Runs training now."""
        with self._lock:
            return len(self._running)

    def _gone(self, run: Run) -> bool:
        return run._stop.is_set() or run.abandoned(self.heartbeat_timeout)

    def _wait_for_slot(self, run: Run) -> bool:
        with self._lock:
            while not (self._waiting[0] is run and len(self._running) < self.slots):
                if self._gone(run):
                    self._waiting.remove(run)
                    self._lock.notify_all()
                    return False
                self._lock.wait(0.5)
            self._waiting.remove(run)
            self._running.append(run)
            self._lock.notify_all()
            return True

    def _work(self, run: Run, dataset: Dataset) -> None:
        if not self._wait_for_slot(run):
            run.state = "cancelled"
            return
        try:
            self._train(run, dataset)
        except Exception as exc:  # noqa: BLE001 - shown to the user, the thread must end cleanly
            run.error = f"{type(exc).__name__}: {exc}"
            run.state = "failed"
        finally:
            with self._lock:
                self._running.remove(run)
                self._lock.notify_all()

    def _train(self, run: Run, dataset: Dataset) -> None:
        from core.models.knobs import build_from_knobs
        from core.models.quicktrain import fit, make_split, score

        run.state = "preparing"
        split = make_split(dataset, run.settings.n_train, n_val=min(1000, run.settings.n_train),
                           n_test=self.n_test, size=run.settings.size)
        run.split_info = split.info
        model = build_from_knobs(run.knobs, run.settings.size)
        run.state = "training"

        def on_progress(event: Progress) -> None:
            run.events.append(event.as_dict())

        record = fit(model, run.settings, split, on_progress=on_progress,
                     should_stop=lambda: self._gone(run), every=self.every)
        test = score(model, split.x_test, split.y_test)
        run.model = model
        run.result = {
            "test_accuracy": test["accuracy"], "test_auroc": test["auroc"],
            "confusion": test["confusion"], "n_test": test["n"],
            "val_accuracy": record["val_accuracy"], "val_loss": record["val_loss"],
            "best_epoch": record["best_epoch"], "epochs_run": record["epochs_run"],
            "seconds": record["seconds"], "params": int(model.count_params()),
            "stopped_early": record["stopped"], "gradcam": _gradcam(model, split, test["p_fake"]),
        }
        run.state = "stopped" if record["stopped"] else "done"


def _gradcam(model, split, p_fake: np.ndarray) -> list[dict]:
    """Grad-CAM of the evidence for FAKE in a few test images (half REAL, half FAKE)."""
    from core.detect.explain import Explainer

    explainer = Explainer(model)
    rows = [*np.flatnonzero(split.y_test == 0)[:N_GRADCAM // 2],
            *np.flatnonzero(split.y_test == 1)[:N_GRADCAM - N_GRADCAM // 2]]
    return [{"image": split.x_test[r], "heat": explainer.heatmap(split.x_test[r]),
             "label": int(split.y_test[r]), "p_fake": float(p_fake[r])} for r in rows]


def name_problem(name: str, models_dir: str | os.PathLike = MODELS_DIR) -> str | None:
    """Why ``name`` cannot be a new model's name (None when it can)."""
    if not NAME_PATTERN.fullmatch(name):
        return ("use 1-40 lower-case letters, digits, '-' or '_', starting with a letter or "
                "digit")
    existing = [p.name for p in Path(models_dir).glob(f"{name}.*")]
    if existing:
        return f"a model named {name!r} already exists ({', '.join(sorted(existing))})"
    return None


def _schedule(settings: TrainSettings) -> str:
    return (f"{settings.epochs} epochs at most, batch {settings.batch_size}, {settings.optimizer} "
            f"(learning rate {settings.learning_rate:g}), best validation check kept; "
            f"augmentation: {', '.join(settings.augment) or 'none'}")


def save_run(run: Run, name: str, dataset: Dataset, *,
             models_dir: str | os.PathLike = MODELS_DIR) -> dict:
    """Write a finished run's model to ``models_dir/NAME.keras`` with its report, evaluated by
    the project's harness (calibration, threshold, test and leak-free test); never replaces an
    existing model. Returns the report."""
    from core.data.imageio import resize_square
    from core.models.evaluate import evaluate_model, hardware

    problem = name_problem(name, models_dir)
    if problem:
        raise ValueError(problem)
    if run.model is None:
        raise ValueError("only a finished run can be saved")
    path = save_keras(run.model, Path(models_dir) / f"{name}.keras")
    info = run.split_info or {}
    write_report({
        "name": name, "family": "cnn", "architecture": "knobs", "knobs": run.knobs.as_dict(),
        "params": int(run.model.count_params()), "file": path.name,
        "file_mb": round(path.stat().st_size / 2**20, 3), "sha256": sha256(path),
        "input_size": run.settings.size,
        "data": {"source": Path(dataset.source).name, "fingerprint": dataset.fingerprint},
        "split": {"seed": 0, "val_fraction": 0.1, "n_train": info.get("n_train"),
                  "n_val": info.get("n_val")},
        "training": {**run.settings.as_dict(), "model": "knobs", "limit": None,
                     "history": {}, "schedule": _schedule(run.settings),
                     "seconds": (run.result or {}).get("seconds"), "hardware": hardware(),
                     "command": f"Training lab: {run.label}"},
        "notes": [f"Trained in the Training lab: {run.label}, {info.get('n_train')} training "
                  "images."],
        "reference": None,
    }, models_dir)
    if run.settings.size != dataset.size:
        dataset = dataclasses.replace(dataset, images=np.stack(
            [resize_square(im, run.settings.size) for im in dataset.images]))
    return evaluate_model(name, dataset, models_dir=models_dir)
