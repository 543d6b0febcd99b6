"""``python bench/run.py --only cluster``: a folder scan in one process against a local Dask
cluster of 2 workers on the same cores (the engine's overhead), and the projected rate of
larger clusters."""

from __future__ import annotations

import tempfile
import time
import zipfile
from pathlib import Path

PROJECTED_WORKERS = (4, 16, 64)


def bench_cluster(path: Path, emit, n_files: int = 20_000, workers: int = 2) -> None:
    """Files/s of a scan of ``n_files`` CIFAKE test JPEGs written to a temporary folder (default
    models and stability check, as ``python -m core predict`` runs): in one process, then on a
    local cluster of ``workers`` single-threaded worker processes on the same machine, whose
    per-worker rate gives the projection for ``PROJECTED_WORKERS`` workers, capped by the
    client's listing rate (the one step a cluster scan does not spread). The engine's overhead
    is the scan's wall time less the workers' compute time shared among them."""
    from distributed import get_task_stream

    from core.detect.cluster_scan import cluster_scan, connect
    from core.detect.detector import load_detector, scan_models
    from core.detect.scanning import SCAN_CHUNK, list_image_files, read_entries, scan

    if not path.is_file():
        raise SystemExit(f"bench_cluster reads JPEGs from the CIFAKE zip; {path} is a folder")
    with tempfile.TemporaryDirectory() as folder, zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.startswith("test/") and n.endswith(".jpg")]
        for name in names[:n_files]:
            target = Path(folder) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(name))
        start = time.perf_counter()
        entries = list_image_files([folder])
        listing_rate = len(entries) / (time.perf_counter() - start)
        start = time.perf_counter()
        sum(len(data or b"") for _, data, _ in read_entries(entries))
        reading_rate = len(entries) / (time.perf_counter() - start)
        emit("cluster_scan_files", len(entries), "files (CIFAKE test JPEGs)")
        emit("cluster_client_listing_files_per_s", listing_rate, "files/s (one process)")
        emit("cluster_reading_files_per_s", reading_rate, "files/s (one process)")

        detector = load_detector(scan_models())
        warm = entries[:2 * SCAN_CHUNK]
        scan(read_entries(warm), detector)  # compiled model calls
        start = time.perf_counter()
        scan(read_entries(entries), detector)
        single = len(entries) / (time.perf_counter() - start)
        emit("cluster_one_process_files_per_s", single, "files/s (one process, all cores)")

        start = time.perf_counter()
        with connect(f"local:{workers}") as client:
            client.wait_for_workers(workers)
            emit("cluster_local_start_s", time.perf_counter() - start,
                 f"s (local cluster of {workers} workers)")
            cluster_scan(entries[:2 * workers * SCAN_CHUNK], detector, client)  # load models
            with get_task_stream(client) as tasks:
                start = time.perf_counter()
                cluster_scan(entries, detector, client)
                seconds = time.perf_counter() - start
    compute = sum(s["stop"] - s["start"] for task in tasks.data for s in task["startstops"]
                  if s["action"] == "compute")
    rate = len(entries) / seconds
    emit(f"cluster_{workers}_workers_files_per_s", rate,
         f"files/s (local cluster, {workers} workers on the same cores)")
    emit("cluster_vs_one_process", rate / single, "ratio (cluster / one process)")
    emit("cluster_engine_overhead_s", seconds - compute / workers,
         f"s (wall time less the chunks' compute time / {workers})")
    per_worker = rate / workers
    emit("cluster_per_worker_files_per_s", per_worker, "files/s (one single-threaded worker)")
    for count in PROJECTED_WORKERS:
        emit(f"cluster_projected_files_per_s_{count}_workers",
             min(count * per_worker, listing_rate),
             f"files/s (projected: min({count} x per-worker rate, client listing rate))")
