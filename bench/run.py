"""The project's benchmarks: ``python bench/run.py [--data PATH]``.

Prints one JSON object per line: ``{"figure": ..., "value": ..., "unit": ...}``. Targets (from the
issues) are noted beside each figure; the numbers are measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.dataset import load_dataset  # noqa: E402
from core.embed import compute_embedding  # noqa: E402
from core.features import feature_table  # noqa: E402
from core.sources import resolve_source  # noqa: E402
from core.stats import compute_stats  # noqa: E402


def emit(figure: str, value: float, unit: str) -> None:
    print(json.dumps({"figure": figure, "value": round(value, 3), "unit": unit}), flush=True)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def bench_data(path: Path) -> None:
    """Data layer: full decode (target <= 60 s), cached load (target <= 2 s), memory, stats."""
    with tempfile.TemporaryDirectory() as cache:
        dataset, seconds = timed(lambda: load_dataset(path, cache_dir=cache))
        emit("dataset_decode_full_s", seconds, "s")
        _, seconds = timed(lambda: load_dataset(path, cache_dir=cache))
        emit("dataset_cached_load_s", seconds, "s")
    emit("dataset_images_mb", dataset.images.nbytes / 2**20, "MiB")
    features, seconds = timed(lambda: feature_table(dataset.images))
    emit("features_full_s", seconds, "s")
    _, seconds = timed(lambda: compute_stats(dataset, features))
    emit("stats_full_s", seconds, "s")
    for method in ("pca", "tsne"):
        _, seconds = timed(lambda m=method: compute_embedding(
            dataset.labels, dataset.classes, dataset.images, features,
            space="pixels", method=m, n=2000))
        emit(f"embedding_{method}_2000_s", seconds, "s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="CIFAKE zip or folder (default: as the app finds it)")
    args = parser.parse_args()
    bench_data(resolve_source(args.data))


if __name__ == "__main__":
    main()
