"""Dataset-level statistics, REAL vs FAKE, per CIFAR class: histograms, box summaries, spectra.

Everything here is numbers only (no pixels), so the result of ``compute_stats`` on the real
dataset is committed as ``data/summary/stats.json`` and drawn by the app without the dataset.
Statistics are kept per class and for all classes together ("all"), so filtering by class is a
lookup, not a recomputation.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from core.analysis.features import FEATURES, gray
from core.data.dataset import Dataset
from core.data.quality import duplicate_report
from core.data.sources import CLASS_NAMES, LABELS
from core.progress import ProgressFn, silent

__all__ = [
    "ALL",
    "DatasetStats",
    "compute_stats",
    "radial_profile",
    "frequency_axis",
]

ALL = "all"
N_BINS = 40
N_OUTLIERS = 25  # most extreme outliers kept per side of each box
N_TOP_BACKGROUND = 12
N_LEAK_EXAMPLES = 12  # leaked groups whose paths are kept, to show them without the hashes
LOG_SCALE_FEATURES = ("laplacian_var",)  # heavy-tailed: log-spaced bins
_FEATURE_INDEX = {name: i for i, name in enumerate(FEATURES)}


@dataclass
class DatasetStats:
    """Statistics of one dataset, REAL vs FAKE, keyed by class name (or ``ALL``).

    Attributes
    ----------
    meta : dict
        ``source``, ``fingerprint``, ``size``, ``n_images``.
    counts, class_counts, duplicates : dict
        As returned by ``Dataset.counts``, ``Dataset.class_counts`` and ``duplicate_report``
        (its summary, plus ``leak_examples``: the paths of the first leaked groups).
    feature_edges : dict
        Histogram bin edges per feature (shared by all groups).
    groups : dict
        ``groups[class_name][label]`` holds ``n``, ``pixel_hist`` (3 x 256 counts, RGB),
        ``feature_hist`` and ``feature_box`` per feature, ``spectrum`` (mean log-magnitude of
        the centred 2-D FFT of the grey image, size x size), ``radial_power`` (mean power per
        integer frequency radius) and ``top_background`` (highest background-defect scores).
    """

    meta: dict
    counts: dict
    class_counts: dict
    duplicates: dict
    feature_edges: dict
    groups: dict = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        """Class names with statistics, ``ALL`` first."""
        return list(self.groups)

    def group(self, class_name: str, label: str) -> dict:
        """Statistics of one class (or ``ALL``) and label ("REAL" or "FAKE")."""
        return self.groups[class_name][label]

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> DatasetStats:
        return cls(**json.loads(text))


def compute_stats(
    dataset: Dataset, features: np.ndarray, *, progress: ProgressFn = silent
) -> DatasetStats:
    """Compute every statistic the Dataset page shows.

    Parameters
    ----------
    dataset : Dataset
    features : ndarray of shape (n, len(FEATURES))
        ``feature_table(dataset.images)``.
    """
    progress(0.0, "Duplicate report")
    report = duplicate_report(dataset.hashes, dataset.labels, dataset.splits)
    leaked = [g for g in report.groups if len(set(dataset.splits[g])) > 1]
    duplicates = {**report.summary, "leak_examples": [dataset.paths[g].tolist()
                                                      for g in leaked[:N_LEAK_EXAMPLES]]}
    edges = {name: _edges(features[:, i], name) for name, i in _FEATURE_INDEX.items()}
    progress(0.1, "Frequency spectra")
    logmag, power = _spectra(dataset, progress)
    present = [c for c in range(len(CLASS_NAMES)) if (dataset.classes == c).any()]
    keys = [(ALL, None)] + [(CLASS_NAMES[c], c) for c in present]
    groups: dict = {}
    for k, (name, c) in enumerate(keys):
        progress(0.6 + 0.4 * k / len(keys), f"Histograms and box plots: {name}")
        in_class = np.ones(len(dataset), bool) if c is None else dataset.classes == c
        groups[name] = {}
        for lab, label in enumerate(LABELS):
            mask = in_class & (dataset.labels == lab)
            cells = [(c2, lab) for c2 in present] if c is None else [(c, lab)]
            n = int(mask.sum())
            groups[name][label] = {
                "n": n,
                "pixel_hist": _pixel_hist(dataset.images[mask]),
                "feature_hist": {
                    f: np.histogram(np.clip(features[mask, i], edges[f][0], edges[f][-1]),
                                    bins=edges[f])[0].tolist()
                    for f, i in _FEATURE_INDEX.items()
                },
                "feature_box": {f: _box(features[mask, i]) for f, i in _FEATURE_INDEX.items()},
                "spectrum": _round(sum(logmag[cell] for cell in cells) / max(n, 1)),
                "radial_power": _round(radial_profile(sum(power[cell] for cell in cells)
                                                      / max(n, 1))),
                "top_background": _top_background(dataset, features, mask),
            }
    progress(1.0, "Statistics done")
    return DatasetStats(
        meta={
            "source": dataset.source.rsplit("/", 1)[-1],
            "fingerprint": dataset.fingerprint,
            "size": dataset.size,
            "n_images": len(dataset),
        },
        counts=dataset.counts(),
        class_counts=dataset.class_counts(),
        duplicates=duplicates,
        feature_edges={f: _round(e) for f, e in edges.items()},
        groups=groups,
    )


def radial_profile(power: np.ndarray) -> np.ndarray:
    """Mean of a centred 2-D spectrum over rings of integer radius 0 .. size // 2."""
    h, w = power.shape
    y, x = np.indices(power.shape)
    radius = np.hypot(y - h // 2, x - w // 2).round().astype(int)
    keep = radius <= min(h, w) // 2
    sums = np.bincount(radius[keep], weights=power[keep])
    return sums / np.bincount(radius[keep])


def frequency_axis(size: int) -> np.ndarray:
    """Spatial frequency (cycles per pixel) of each ``radial_profile`` entry for an image side."""
    return np.arange(size // 2 + 1) / size


def _spectra(dataset: Dataset, progress: ProgressFn) -> tuple[dict, dict]:
    """Summed centred log-magnitude and power spectra per (class, label) cell."""
    import scipy.fft  # imported here: the Dataset page's first view does not need it

    n_cells = len(CLASS_NAMES) * len(LABELS)
    s = dataset.size
    logmag = np.zeros((n_cells, s * s))
    power = np.zeros((n_cells, s * s))
    cell = dataset.classes.astype(np.int64) * len(LABELS) + dataset.labels
    chunk = 8192
    for start in range(0, len(dataset), chunk):
        progress(0.1 + 0.5 * start / len(dataset), "Frequency spectra")
        g = gray(dataset.images[start : start + chunk])
        spectrum = scipy.fft.fftshift(scipy.fft.fft2(g, workers=-1), axes=(1, 2))
        magnitude = np.abs(spectrum).reshape(len(g), -1)
        one_hot = np.eye(n_cells, dtype=np.float32)[cell[start : start + chunk]].T
        logmag += one_hot @ np.log1p(magnitude)
        power += one_hot @ magnitude**2
    as_cells = lambda a: {  # noqa: E731
        (c, lab): a[c * len(LABELS) + lab].reshape(s, s)
        for c in range(len(CLASS_NAMES)) for lab in range(len(LABELS))
    }
    return as_cells(logmag), as_cells(power)


def _edges(values: np.ndarray, name: str) -> np.ndarray:
    lo, hi = np.quantile(values, [0.001, 0.999])
    if hi <= lo:
        hi = lo + 1.0
    if name in LOG_SCALE_FEATURES:
        return np.geomspace(max(lo, 1.0), max(hi, 2.0), N_BINS + 1)
    return np.linspace(lo, hi, N_BINS + 1)


def _pixel_hist(images: np.ndarray) -> list[list[int]]:
    return [np.bincount(images[..., ch].ravel(), minlength=256).tolist() for ch in range(3)]


def _box(values: np.ndarray) -> dict:
    """Tukey box summary with the most extreme outliers (1.5 IQR rule)."""
    if len(values) == 0:
        return {}
    q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    iqr = q3 - q1
    inside = values[(values >= q1 - 1.5 * iqr) & (values <= q3 + 1.5 * iqr)]
    low = np.sort(values[values < q1 - 1.5 * iqr])
    high = np.sort(values[values > q3 + 1.5 * iqr])
    return {
        "q1": float(q1), "median": float(median), "q3": float(q3),
        "lower_fence": float(inside.min()), "upper_fence": float(inside.max()),
        "mean": float(values.mean()), "std": float(values.std()),
        "n_outliers": int(len(low) + len(high)),
        "outliers": _round(np.concatenate([low[:N_OUTLIERS], high[-N_OUTLIERS:]])),
    }


def _top_background(dataset: Dataset, features: np.ndarray, mask: np.ndarray) -> list[dict]:
    rows = np.flatnonzero(mask)
    scores = features[rows, _FEATURE_INDEX["background_residual"]]
    top = rows[np.argsort(-scores, kind="stable")[:N_TOP_BACKGROUND]]
    return [
        {"path": str(dataset.paths[i]),
         "score": round(float(features[i, _FEATURE_INDEX["background_residual"]]), 3)}
        for i in top
    ]


def _round(array: np.ndarray, digits: int = 5) -> list:
    """Nested list with values rounded to ``digits`` significant digits (compact JSON)."""
    return np.vectorize(lambda v: float(f"{v:.{digits}g}"),
                        otypes=[float])(np.asarray(array)).tolist()
