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


def bench_models(path: Path) -> None:
    """Every shipped model: training time (from its report), batched images/s and single-image
    latency (compiled call) measured now on test images."""
    from core.artifacts import list_reports, load_predictor

    dataset = load_dataset(path)
    test_images = dataset.images[dataset.splits == 1][:4096]
    for report in list_reports():
        name = report["name"]
        predictor = load_predictor(name)
        predictor.predict(test_images[:256])  # warm-up
        _, seconds = timed(lambda p=predictor: p.predict(test_images))
        emit(f"train_seconds_{name}", report.get("training", {}).get("seconds", 0.0), "s")
        emit(f"images_per_second_{name}", len(test_images) / seconds, "images/s")
        emit(f"single_image_ms_{name}", predictor.latency_ms(test_images[0]), "ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="CIFAKE zip or folder (default: as the app finds it)")
    parser.add_argument("--only", choices=["data", "models"], help="run one group only")
    args = parser.parse_args()
    path = resolve_source(args.data)
    if args.only in (None, "data"):
        bench_data(path)
    if args.only in (None, "models"):
        bench_models(path)


if __name__ == "__main__":
    main()
