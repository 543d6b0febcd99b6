"""The work behind the prediction service, without the web framework: the models loaded once per
process, scan rows of uploaded files (the rows of ``python -m core predict`` and Batch scan) and
heat-map PNGs of one image (the heat maps of Check an image). Every method may be called from
several worker threads at once."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from core.data.imageio import MAX_PIXELS, decode_image, enlarge
from core.detect.detector import Detector, load_detector, prepare, scan_models, verdict
from core.detect.scanning import MAX_FILE_BYTES, iter_uploads, scan
from core.errors import ImageError
from core.models.artifacts import MODELS_DIR, list_reports

__all__ = ["MAX_BATCH_BYTES", "METHODS", "OUTPUTS", "Service", "TooLarge"]

# the heat-map methods by their names in URLs
METHODS = {"gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "scorecam": "Score-CAM (faster)",
           "smoothgrad": "SmoothGrad"}
OUTPUTS = ("overlay", "raw")
OVERLAY_SIDE = 256  # an overlay is the model input enlarged to about this side, as on the page
MAX_BATCH_BYTES = 200 * 2**20  # the most image bytes one batch may expand to, zips unpacked


class TooLarge(ValueError):
    """An upload, or the images a zip expands to, over a size limit."""


class Service:
    """The loaded detector, the detectors of subsets of its models and the heat-map tools, each
    built once.

    Parameters
    ----------
    detector : Detector
        Every model the service scores with; requests may choose a subset.
    models_dir : path
        Where the models' reports are (thresholds and metrics of subsets and of ``/models``).
    max_batch_bytes : int
        The most image bytes one batch may hold once its zips are unpacked.
    """

    def __init__(self, detector: Detector, models_dir: str | os.PathLike = MODELS_DIR, *,
                 max_batch_bytes: int = MAX_BATCH_BYTES):
        self.detector = detector
        self.models_dir = Path(models_dir)
        self.max_batch_bytes = max_batch_bytes
        self._detectors = {tuple(sorted(detector.names)): detector}
        self._explainers: dict[str, tuple[object, threading.Lock]] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, names: list[str] | None = None,
             models_dir: str | os.PathLike = MODELS_DIR) -> Service:
        """The service of models ``names`` (default: those of a scan, ``scan_models``), warmed
        up. Raises ValueError for unknown models."""
        detector = load_detector(names or scan_models(models_dir), models_dir=models_dir)
        service = cls(detector, models_dir)
        service.warm_up()
        return service

    def warm_up(self) -> None:
        """Score one grey image the way a request does, so that the compiled model calls exist
        before the first request (and before worker threads race to build them)."""
        from core.data.imageio import png_bytes

        grey = np.full((self.detector.size, self.detector.size, 3), 128, np.uint8)
        scan([("warm-up.png", png_bytes(grey), "")], self.detector)

    # ------------------------------------------------------------ descriptions

    def health(self) -> dict:
        """The loaded models with their versions (file sha256), the ensemble, the limits and
        the id of the process answering (one of the workers)."""
        return {
            "status": "ok",
            "pid": os.getpid(),
            "models": [{"name": n, "family": p.family, "sha256": p.sha256,
                        "threshold": self.detector.threshold(n)}
                       for n, p in self.detector.predictors.items()],
            "ensemble": self.detector.ensemble,
            "limits": {"max_file_bytes": MAX_FILE_BYTES, "max_pixels": MAX_PIXELS,
                       "max_batch_bytes": self.max_batch_bytes},
        }

    def model_table(self) -> list[dict]:
        """Every evaluated model in the models folder: name, family, threshold, test and
        leak-free test accuracy at the threshold, AUROC, file sha256 and whether it is loaded
        (read once: the reports are megabytes of JSON)."""
        return self._model_table

    @functools.cached_property
    def _model_table(self) -> list[dict]:
        table = []
        for report in list_reports(self.models_dir):
            metrics = report.get("metrics")
            if not metrics:
                continue
            leakfree = metrics.get("leakfree_test") or {}
            table.append({
                "name": report["name"], "family": report.get("family", ""),
                "threshold": report["threshold"],
                "test_accuracy": metrics["test"]["at_threshold"]["accuracy"],
                "leakfree_accuracy": (leakfree.get("at_threshold") or {}).get("accuracy"),
                "auroc": metrics["test"]["roc_auc"],
                "leakfree_auroc": leakfree.get("roc_auc"),
                "sha256": report.get("sha256", ""),
                "loaded": report["name"] in self.detector.predictors,
            })
        return table

    # ------------------------------------------------------------ scoring

    def detector_for(self, names: list[str] | None) -> Detector:
        """The detector of the loaded models ``names`` (all when empty), with the ensemble and
        thresholds ``load_detector`` gives them, built once per set of names."""
        if not names:
            return self.detector
        missing = sorted(set(names) - set(self.detector.names))
        if missing:
            raise ValueError(f"model(s) {missing} are not loaded; this service has "
                             f"{self.detector.names} (start it with --model NAME to add one)")
        key = tuple(sorted(set(names)))
        with self._lock:
            if key not in self._detectors:
                self._detectors[key] = load_detector(list(key), models_dir=self.models_dir,
                                                     load=self.detector.predictors.__getitem__)
            return self._detectors[key]

    def predict(self, name: str, data: bytes, models: list[str] | None = None, *,
                view: str = "resize", check_stability: bool = True) -> dict:
        """The scan row of one image file. Raises TooLarge for a file over ``MAX_FILE_BYTES``,
        ImageError (with the scan's reason) for a file that cannot be read, ValueError for a
        zip or unknown models."""
        if name.lower().endswith(".zip"):
            raise ValueError("one image per request; send zips to /predict/batch")
        row = self.predict_batch([(name, data)], models, view=view,
                                 check_stability=check_stability)[0]
        if row["status"] == "error":
            raise (TooLarge if row["bytes"] is None else ImageError)(row["message"])
        return row

    def predict_batch(self, uploads: list[tuple[str, bytes]], models: list[str] | None = None,
                      *, view: str = "resize", check_stability: bool = True) -> list[dict]:
        """The scan rows of uploaded ``(name, bytes)`` files and zips (one per image inside); a
        file that cannot be read gets an error row. Raises TooLarge when the images come to
        more than ``max_batch_bytes``."""
        detector = self.detector_for(models)
        files = _bounded(iter_uploads(uploads), self.max_batch_bytes)
        return scan(files, detector, view=view, check_stability=check_stability)

    # ------------------------------------------------------------ heat maps

    def explain(self, data: bytes, model: str | None = None, method: str = "gradcam", *,
                target: str | None = None, layer: str | None = None, view: str = "resize",
                output: str = "overlay", opacity: float = 0.5,
                colormap: str = "jet") -> tuple[bytes, dict]:
        """A heat map of one image file as PNG bytes, with what it shows (``model``, ``method``,
        ``layer``, ``target``, the model's ``p_fake``).

        ``model`` is a loaded CNN (default: the most accurate one); ``target`` defaults to the
        side of the threshold the model's score is on. ``output="overlay"`` blends the map over
        the model input enlarged to about 256 pixels (``opacity``, ``colormap``), ``"raw"`` is
        the map itself as a grey PNG at the input's size. Raises ImageError for an unreadable
        file, ValueError for a bad choice.
        """
        from core.data.imageio import png_bytes
        from core.detect.explain import overlay

        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose from {list(METHODS)}")
        if output not in OUTPUTS:
            raise ValueError(f"unknown output {output!r}; choose from {list(OUTPUTS)}")
        cnns = [n for n in self.detector.names if self.detector.families.get(n) != "classical"]
        model = model or (cnns[0] if cnns else "")
        if model not in cnns:
            raise ValueError(f"heat maps need a loaded CNN; this service has {cnns or 'none'}")
        if len(data) > MAX_FILE_BYTES:
            raise TooLarge(f"file too large ({len(data) / 2**20:.0f} MB; limit "
                           f"{MAX_FILE_BYTES / 2**20:.0f} MB)")
        x = prepare(decode_image(data), self.detector.size, view)
        p_fake = float(self.detector.predictors[model].predict(x[None])[0])
        target = target or verdict(p_fake, self.detector.threshold(model), band=0.0)
        explainer, lock = self._explainer(model)
        with lock:  # one heat map per model at a time: the tools keep state between calls
            heat = explainer.heatmap(x, METHODS[method], layer=layer, target=target)
        if output == "overlay":
            image = overlay(enlarge(x, max(1, OVERLAY_SIDE // self.detector.size)), heat,
                            opacity=opacity, colormap=colormap)
        else:
            image = (heat * 255).round().astype(np.uint8)
        return png_bytes(image), {"model": model, "method": method,
                                  "layer": layer or explainer.default_layer, "target": target,
                                  "p_fake": round(p_fake, 6)}

    def _explainer(self, model: str):
        """The heat-map tools of a loaded CNN and the lock that serialises their use."""
        from core.detect.explain import Explainer

        with self._lock:
            if model not in self._explainers:
                self._explainers[model] = (Explainer(self.detector.predictors[model].model),
                                           threading.Lock())
            return self._explainers[model]


def _bounded(files: Iterator[tuple[str, bytes | None, str]], limit: int
             ) -> Iterator[tuple[str, bytes | None, str]]:
    """``files`` as they come, raising TooLarge once their bytes add up to more than ``limit``
    (a small zip can expand to far more than it weighs)."""
    total = 0
    for name, data, problem in files:
        total += len(data or b"")
        if total > limit:
            raise TooLarge(f"the upload expands to more than {limit / 2**20:.0f} MB of images; "
                           "send fewer at a time")
        yield name, data, problem
