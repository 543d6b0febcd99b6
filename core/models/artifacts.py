"""Trained-model files in ``models/``: saving them atomically, loading them safely, and their
JSON reports.

A model ``NAME`` is ``models/NAME.keras`` (Keras, loaded with ``safe_mode=True``) or
``models/NAME.skops`` (scikit-learn, loaded with skops, which never unpickles: only the types
in ``TRUSTED_PREFIXES`` are rebuilt), plus ``models/NAME.json``, its report.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.analysis.features import flatten
from core.data.files import atomic_target, write_atomic
from core.data.sources import REPO_ROOT
from core.models.calibration import apply_calibration
from core.models.tta import IDENTITY, stack_views

__all__ = [
    "MODELS_DIR",
    "Predictor",
    "list_reports",
    "load_predictor",
    "read_json",
    "read_report",
    "write_json",
    "save_keras",
    "save_sklearn",
    "sha256",
    "write_report",
]

MODELS_DIR = REPO_ROOT / "models"
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.")
BATCH = 1024


def sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_keras(model, path: str | os.PathLike) -> Path:
    """Save a Keras model's architecture and weights, without optimizer state, so that ``path``
    is either the old file or the complete new one."""
    inference = model.__class__.from_config(model.get_config())  # uncompiled: no optimizer
    inference.set_weights(model.get_weights())
    with atomic_target(path, suffix=".keras") as tmp:
        inference.save(tmp)
    return Path(path)


def save_sklearn(estimator, path: str | os.PathLike) -> Path:
    """Save a scikit-learn estimator with skops (no pickle; deflate-compressed), atomically."""
    import zipfile

    import skops.io as sio

    return write_atomic(path, sio.dumps(estimator, compression=zipfile.ZIP_DEFLATED,
                                        compresslevel=9))


def read_report(name: str, models_dir: str | os.PathLike = MODELS_DIR) -> dict:
    path = Path(models_dir) / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"no report for model {name!r} at {path}")
    return json.loads(path.read_text())


def read_json(file_name: str, models_dir: str | os.PathLike = MODELS_DIR) -> dict | None:
    """A JSON file in the models folder (a lab report, the leaderboard...), or None if absent."""
    path = Path(models_dir) / file_name
    return json.loads(path.read_text()) if path.exists() else None


def write_json(data, file_name: str, models_dir: str | os.PathLike = MODELS_DIR) -> Path:
    """Write ``data`` as indented JSON to ``models_dir/file_name``, atomically."""
    return write_atomic(Path(models_dir) / file_name, json.dumps(data, indent=1))


def write_report(report: dict, models_dir: str | os.PathLike = MODELS_DIR) -> Path:
    return write_atomic(Path(models_dir) / f"{report['name']}.json",
                        json.dumps(report, indent=1, sort_keys=False))


def list_reports(models_dir: str | os.PathLike = MODELS_DIR) -> list[dict]:
    """Reports of every model that has a file beside its JSON, sorted by name."""
    reports = []
    for path in sorted(Path(models_dir).glob("*.json")):
        report = json.loads(path.read_text())
        if isinstance(report, dict) and "file" in report \
                and (Path(models_dir) / report["file"]).exists():
            reports.append(report)
    return reports


@dataclass
class Predictor:
    """A loaded model that maps uint8 RGB images to P(FAKE).

    Attributes
    ----------
    name, family : str
    model : keras.Model or scikit-learn estimator
    size : int
        The image side the model expects.
    sha256 : str
        Digest of the model file ("" for a model that was not loaded from a file): the
        version that caches of its results key on.
    calibration : dict or None
        The calibration from the model's report (``core.models.calibration``), applied to
        every score; None gives the model's raw output.
    tta : dict or None
        The report's ``tta`` section (``core.models.evaluate_tta``): the ``views`` averaged by
        test-time augmentation, with the ``calibration`` and ``threshold`` of that averaged
        score; None when the model has none.
    """

    name: str
    family: str
    model: Any
    size: int
    sha256: str = ""
    calibration: dict | None = None
    tta: dict | None = None

    def predict(self, images: np.ndarray, *, batch_size: int = BATCH,
                tta: bool = False) -> np.ndarray:
        """Calibrated P(FAKE) per image, shape (n,), float32; with ``tta``, the mean of the raw
        P(FAKE) over the views of the report's ``tta`` section, calibrated by its calibration
        (raises ValueError for a model without one)."""
        if not tta:
            return apply_calibration(self.calibration, self.raw(images, batch_size=batch_size))
        if not self.tta:
            raise ValueError(f"model {self.name!r} has no test-time augmentation in its report "
                             f"(python -m core evaluate --tta --model {self.name})")
        return apply_calibration(self.tta["calibration"] if self.calibration else None,
                                 self.raw(images, self.tta["views"], batch_size=batch_size))

    def raw(self, images: np.ndarray, views=(IDENTITY,), *, batch_size: int = BATCH
            ) -> np.ndarray:
        """Uncalibrated P(FAKE) per image averaged over ``views`` (``core.models.tta``), shape
        (n,), float32; every view of a batch goes through the model in one call."""
        out = np.empty(len(images), dtype=np.float32)
        step = max(1, batch_size // len(views))
        for start in range(0, len(images), step):
            batch = images[start:start + step]
            scores = self._scores(stack_views(batch, views))
            out[start:start + step] = (scores if len(views) == 1
                                       else scores.reshape(len(views), -1).mean(axis=0))
        return out

    def _scores(self, batch: np.ndarray) -> np.ndarray:
        if self.family == "classical":
            return self.model.predict_proba(flatten(batch))[:, 1]
        return np.asarray(self._call(batch)).reshape(-1)

    @property
    def _call(self):
        """The model's forward pass, compiled once (tf.function under TensorFlow)."""
        if "_compiled" not in self.__dict__:
            import keras

            model = self.model

            def call(x):
                return model(x, training=False)

            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                # one trace for every batch size (a shape-polymorphic signature, never retraced)
                spec = tf.TensorSpec([None, self.size, self.size, 3], tf.float32)
                call = tf.function(call, input_signature=[spec], autograph=False)
            self.__dict__["_compiled"] = lambda batch: call(np.asarray(batch, dtype=np.float32))
        return self.__dict__["_compiled"]

    def features(self, images: np.ndarray, *, batch_size: int = BATCH) -> np.ndarray:
        """Penultimate-layer activations (the layer named ``features``) of a Keras model,
        shape (n, n_features)."""
        return self.predict_with_features(images, batch_size=batch_size)[1]

    def predict_with_features(self, images: np.ndarray, *, batch_size: int = BATCH
                              ) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated P(FAKE), shape (n,), and the penultimate-layer activations, shape
        (n, n_features), of a Keras model from one forward pass."""
        import keras

        if "_with_features" not in self.__dict__:
            both = keras.Model(self.model.input,
                               [self.model.get_layer("features").output, self.model.output])

            def call(x):
                return both(x, training=False)

            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                spec = tf.TensorSpec([None, self.size, self.size, 3], tf.float32)
                call = tf.function(call, input_signature=[spec], autograph=False)
            self.__dict__["_with_features"] = call
        call = self.__dict__["_with_features"]
        features, scores = [], []
        for start in range(0, len(images), batch_size):
            f, p = call(images[start:start + batch_size].astype(np.float32))
            features.append(np.asarray(f).reshape(len(f), -1))
            scores.append(np.asarray(p).reshape(-1))
        return (apply_calibration(self.calibration, np.concatenate(scores).astype(np.float32)),
                np.concatenate(features))

    def latency_ms(self, image: np.ndarray, *, repeats: int = 50, views=(IDENTITY,)) -> float:
        """Median wall time of scoring one image (after a warm-up call), averaged over
        ``views`` (``core.models.tta``; default the image alone)."""
        one = image[None]
        self.raw(one, views)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            self.raw(one, views)
            times.append(time.perf_counter() - start)
        return float(np.median(times) * 1000)


def load_predictor(name: str, models_dir: str | os.PathLike = MODELS_DIR, *,
                   calibrated: bool = True) -> Predictor:
    """Load model ``name`` from its report's file: Keras in safe mode, scikit-learn through
    skops with only scikit-learn/NumPy/SciPy types trusted; the file's sha256 must match the
    report's. Its scores are calibrated by the report's calibration unless ``calibrated`` is
    False (and so is its test-time augmentation, ``Predictor.predict(..., tta=True)``)."""
    report = read_report(name, models_dir)
    path = Path(models_dir) / report["file"]
    digest = sha256(path)
    if report.get("sha256") and digest != report["sha256"]:
        raise ValueError(f"{path.name} does not match the sha256 in its report; retrain or "
                         "re-evaluate it")
    size = int(report.get("input_size", 32))
    calibration = report.get("calibration") if calibrated else None
    if path.suffix == ".skops":
        import skops.io as sio

        untrusted = sio.get_untrusted_types(file=path)
        refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
        if refused:
            raise ValueError(f"{path.name} contains types that are not trusted: {refused}")
        return Predictor(name, "classical", sio.load(path, trusted=untrusted), size, digest,
                         calibration, report.get("tta"))
    import keras

    model = keras.saving.load_model(path, safe_mode=True, compile=False)
    return Predictor(name, report.get("family", "cnn"), model, size, digest, calibration,
                     report.get("tta"))
