"""The project's benchmarks: ``python bench/run.py [--data PATH]``.

Prints one JSON object per line: ``{"figure": ..., "value": ..., "unit": ...}``. Targets are noted
beside each figure; the numbers are measured, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

try:
    import core  # noqa: F401  (the project, installed: a script finds no package beside it)
except ModuleNotFoundError:
    raise SystemExit("bench/run.py needs the project installed: pip install -e . (part of "
                     "pip install -r requirements-dev.txt)") from None
import numpy as np
from app_bench import bench_dataset_page, bench_inside
from cluster_bench import bench_cluster
from common import emit, timed

from core.analysis.embed import compute_embedding
from core.analysis.features import feature_table
from core.analysis.stats import compute_stats
from core.data.dataset import load_dataset
from core.data.sources import resolve_source


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
    from core.models.artifacts import list_reports, load_predictor
    from core.models.evaluate import total_training_seconds

    dataset = load_dataset(path)
    test_images = dataset.images[dataset.splits == 1][:4096]
    for report in list_reports():
        name = report["name"]
        predictor = load_predictor(name)
        predictor.predict(test_images[:256])  # warm-up
        _, seconds = timed(lambda p=predictor: p.predict(test_images))
        emit(f"train_seconds_{name}", total_training_seconds(report.get("training") or {}) or 0.0,
             "s")
        emit(f"images_per_second_{name}", len(test_images) / seconds, "images/s")
        emit(f"single_image_ms_{name}", predictor.latency_ms(test_images[0]), "ms")


def bench_predict(path: Path) -> None:
    """The prediction path: one uploaded JPEG through every model (target <= 300 ms with one
    Grad-CAM on the most accurate CNN), Grad-CAM alone, batch scoring on decoded arrays by the
    default scan model (target >= 3,000 images/s and at least reference_cnn's speed, measured
    in the same run), a batch scan of JPEG files including decoding (target >= 2,000), and the
    flagship's cost with and without test-time augmentation."""
    import zipfile

    from core.data.imageio import decode_image
    from core.detect.detector import load_detector, prepare, scan_models
    from core.detect.explain import Explainer
    from core.detect.scanning import scan

    with zipfile.ZipFile(path) if path.is_file() else _no_zip(path) as archive:
        names = [n for n in archive.namelist() if n.startswith("test/") and n.endswith(".jpg")]
        files = [(n, archive.read(n), "") for n in names[:: max(1, len(names) // 4000)]]
    detector = load_detector()
    best = next(n for n in detector.names if detector.families[n] != "classical")
    explainer = Explainer(detector.predictors[best].model)
    repeats = 30

    def one_image(data):
        x = prepare(decode_image(data), detector.size)
        return x, detector.score(x[None])

    x, _ = one_image(files[0][1])  # warm-up: compiled calls, tf-keras-vis graphs
    explainer.heatmap(x, "Grad-CAM")
    single, cam, both = [], [], []
    for _, data, _ in files[1:repeats + 1]:
        (x, _), seconds = timed(lambda d=data: one_image(d))
        _, cam_seconds = timed(lambda x=x: explainer.heatmap(x, "Grad-CAM"))
        single.append(seconds)
        cam.append(cam_seconds)
        both.append(seconds + cam_seconds)
    emit("predict_single_all_models_ms", 1000 * float(np.median(single)), "ms")
    emit("gradcam_single_ms", 1000 * float(np.median(cam)), "ms")
    emit("predict_single_all_models_plus_gradcam_ms", 1000 * float(np.median(both)), "ms")

    dataset = load_dataset(path)
    images = dataset.images[dataset.splits == 1][:10_000]
    scanner = (scan_models() or [best])[0]
    rates = {name: _best_rate(detector.predictors[name], images)
             for name in dict.fromkeys([scanner, "reference_cnn"]) if name in detector.predictors}
    emit("batch_images_per_s", rates[scanner], f"images/s ({scanner})")
    if "reference_cnn" in rates:
        emit("batch_images_per_s_reference_cnn", rates["reference_cnn"], "images/s (reference_cnn)")
        emit("batch_speed_vs_reference_cnn", rates[scanner] / rates["reference_cnn"],
             f"ratio ({scanner} / reference_cnn, same run)")
    only_scanner = load_detector([scanner])
    _, seconds = timed(lambda: scan(files, only_scanner, check_stability=False))
    emit("batch_end_to_end_images_per_s", len(files) / seconds, f"images/s ({scanner})")
    _bench_tta(detector.predictors.get("flagship"),
               prepare(decode_image(files[0][1]), detector.size), images[:2048])


def _bench_tta(flagship, x: np.ndarray, images: np.ndarray) -> None:
    """The flagship's cost with and without its test-time augmentation: one image (median) and
    batch scoring."""
    if flagship is None or not flagship.tta:
        return
    views = flagship.tta["views"]
    emit("predict_single_flagship_ms", flagship.latency_ms(x, repeats=30), "ms (flagship)")
    emit("predict_single_flagship_tta_ms", flagship.latency_ms(x, repeats=30, views=views),
         f"ms (flagship, {len(views)} views)")
    emit("batch_images_per_s_flagship", _best_rate(flagship, images), "images/s (flagship)")
    emit("batch_images_per_s_flagship_tta", _best_rate(flagship, images, tta=True),
         f"images/s (flagship, {len(views)} views)")


def _best_rate(predictor, images: np.ndarray, rounds: int = 3, tta: bool = False) -> float:
    """Images/s of batch scoring (with ``tta``: over the test-time augmentation views): the best
    of a few timed passes after a warm-up."""
    predictor.predict(images[:1024], tta=tta)
    return max(len(images) / timed(lambda: predictor.predict(images, tta=tta))[1]
               for _ in range(rounds))


def _no_zip(path: Path):
    raise SystemExit(f"bench_predict reads JPEGs from the CIFAKE zip; {path} is a folder")


def bench_api(path: Path, clients: int = 16, requests: int = 25, workers: int = 1) -> None:
    """The prediction service as ``python -m core serve --workers N`` runs it, on a loopback
    port: ``clients`` concurrent clients each sending ``requests`` single CIFAKE test JPEGs to
    ``/predict`` (default models and stability check); requests/s over the whole run, p50 and
    p95 latency (figures of N > 1 workers end in ``_<N>w``)."""
    import os
    import socket
    import subprocess
    import zipfile
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    with zipfile.ZipFile(path) if path.is_file() else _no_zip(path) as archive:
        names = [n for n in archive.namelist() if n.startswith("test/") and n.endswith(".jpg")]
        images = [(n.rsplit("/", 1)[1], archive.read(n)) for n in names[:clients * requests]]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = Path(__file__).resolve().parent.parent
    server = subprocess.Popen([sys.executable, "-m", "core", "serve", "--port", str(port),
                               "--workers", str(workers)],
                              cwd=root, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, ready = time.monotonic() + 180, set()
        while len(ready) < workers:  # every worker has loaded its models and answered
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("python -m core serve did not start")
            try:
                ready.add(httpx.get(f"{base}/health", timeout=2).json()["pid"])
            except httpx.TransportError:
                time.sleep(0.5)

        def one_client(index: int) -> list[float]:
            latencies = []
            with httpx.Client(base_url=base, timeout=60) as http:
                for image in images[index * requests:(index + 1) * requests]:
                    start = time.perf_counter()
                    answer = http.post("/predict", files={"file": image})
                    latencies.append(time.perf_counter() - start)
                    if answer.status_code != 200 or "verdict" not in answer.json():
                        raise SystemExit(f"/predict answered {answer.status_code}: {answer.text}")
            return latencies

        one_client(0)  # warm-up: connections, the first requests through the pool
        with ThreadPoolExecutor(clients) as pool:
            latencies, seconds = timed(lambda: [t for c in pool.map(one_client, range(clients))
                                                for t in c])
    finally:
        server.terminate()
        server.wait(timeout=30)
    suffix = f"_{workers}w" if workers > 1 else ""
    emit(f"api_requests_per_s{suffix}", len(latencies) / seconds,
         f"requests/s ({clients} clients x {requests} images, scanner, {workers} worker(s))")
    emit(f"api_p50_ms{suffix}", 1000 * float(np.percentile(latencies, 50)), "ms")
    emit(f"api_p95_ms{suffix}", 1000 * float(np.percentile(latencies, 95)), "ms")


def bench_backbones(epoch_images: int = 81_000) -> None:
    """Training cost of each keras.applications backbone from scratch at 32x32: images/s over a
    few batches and the implied minutes per epoch of CIFAKE's training split."""
    import keras

    from core.models.deep import BACKBONES, build_model

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, 32, 32, 3)).astype(np.float32)
    y = rng.integers(0, 2, 64).astype(np.float32)
    for name in BACKBONES:
        model = build_model(name)
        model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="binary_crossentropy")
        for _ in range(2):
            model.train_on_batch(x, y)
        _, seconds = timed(lambda m=model: [m.train_on_batch(x, y) for _ in range(5)])
        rate = 5 * len(x) / seconds
        emit(f"train_images_per_second_{name}", rate, "images/s")
        emit(f"train_epoch_minutes_{name}", epoch_images / rate / 60, "min")
        emit(f"params_{name}", model.count_params(), "params")


def bench_training_lab(path: Path) -> None:
    """The Training lab's reference settings (the report CNN, 5,000 images, 3 epochs, batch 64)
    run as the page runs them: seconds from Start to the first progress event and to the
    result with test scores and Grad-CAM (target: a useful run in under a minute on 2 cores)."""
    from core.labs.training import Runner
    from core.models.knobs import REFERENCE
    from core.models.quicktrain import TrainSettings

    dataset = load_dataset(path)
    runner = Runner(slots=1, heartbeat_timeout=3600)
    start = time.perf_counter()
    run = runner.start(REFERENCE, TrainSettings(epochs=3, batch_size=64, n_train=5000), dataset)
    while not run.events and not run.finished:
        time.sleep(0.05)
    emit("training_lab_first_progress_s", time.perf_counter() - start, "s")
    run.join()
    emit("training_lab_reference_run_s", time.perf_counter() - start, "s")
    emit("training_lab_reference_test_accuracy", run.result["test_accuracy"], "fraction")
    emit("training_lab_reference_images_per_second",
         run.split_info["n_train"] * run.result["epochs_run"] / run.result["seconds"], "images/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="CIFAKE zip or folder (default: as the app finds it)")
    parser.add_argument("--only", choices=["data", "page", "models", "predict", "api", "backbones",
                                           "training_lab", "inside", "cluster", "class"],
                        help="run one group only (class: only with --only)")
    parser.add_argument("--class-paths", nargs="+", metavar="PATH",
                        help="the views a class opens in turn, as URL paths with their query "
                             "(default: the lesson's first three steps, or Home, Dataset and "
                             "Model comparison without a Lesson page)")
    parser.add_argument("--class-sizes", nargs="+", type=int, default=[10, 30], metavar="N",
                        help="browser sessions in each class run (default: 10 30)")
    args = parser.parse_args()
    path = resolve_source(args.data)
    if args.only in (None, "data"):
        bench_data(path)
    if args.only in (None, "page"):
        bench_dataset_page(path)
    if args.only in (None, "models"):
        bench_models(path)
    if args.only in (None, "predict"):
        bench_predict(path)
    if args.only in (None, "api"):
        bench_api(path)
        bench_api(path, workers=2)
    if args.only in (None, "backbones"):
        bench_backbones()
    if args.only in (None, "training_lab"):
        bench_training_lab(path)
    if args.only in (None, "inside"):
        bench_inside(path)
    if args.only in (None, "cluster"):
        bench_cluster(path, emit)
    if args.only == "class":  # many browsers on this machine's cores: run it on its own
        from class_bench import run_class

        run_class(emit, data=path, steps=args.class_paths, sizes=tuple(args.class_sizes))


if __name__ == "__main__":
    main()
