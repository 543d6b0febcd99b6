"""Scanning on a cluster (Dask distributed): the client lists the files once, workers read and
score them in chunks (``scanning.SCAN_CHUNK`` files, the chunks of a single-process scan) with
models each worker loads once, and the rows come back in the input order: the same rows as
``scanning.scan``. A chunk whose worker dies is run again on another worker.

Dask is imported only inside these functions (``pip install 'cifake-explorer[cluster]'``)."""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.detect.detector import Detector, load_detector
from core.detect.scanning import SCAN_CHUNK, FileEntry, read_entries, score_files
from core.models.artifacts import MODELS_DIR
from core.progress import ProgressFn, silent

__all__ = ["CONNECT_TIMEOUT", "cluster_scan", "connect", "parse_cluster"]

CONNECT_TIMEOUT = 10  # seconds to reach a scheduler
# times a chunk may lose its worker before the scan gives up (Dask's allowed-failures)
ALLOWED_FAILURES = 3
_INSTALL = "pip install 'distributed==2026.11.0' (or the project's extra: pip install '.[cluster]')"


def parse_cluster(spec: str) -> tuple[str, int]:
    """``("local", N)`` for ``local`` (N: the number of cores) or ``local:N``, else
    ``("address", 0)`` for a scheduler's address (``tcp://host:8786`` or ``host:8786``).
    Raises ValueError for anything else."""
    if spec == "local" or spec.startswith("local:"):
        count = spec.partition(":")[2] or str(os.cpu_count() or 1)
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"--cluster {spec}: local:N needs a number of workers of 1 or more")
        return "local", int(count)
    host_port = spec.split("://", 1)[-1]
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--cluster {spec}: give local, local:N or a scheduler's address such "
                         "as tcp://host:8786")
    return "address", 0


@contextmanager
def connect(spec: str, *, timeout: float | None = None) -> Iterator:
    """A Dask client of the cluster ``spec`` (``parse_cluster``) for the duration of the block:
    ``local``/``local:N`` starts N single-threaded worker processes on this machine (loopback
    only) and stops them afterwards; an address connects to a running scheduler. Raises
    ValueError when Dask is missing or the scheduler cannot be reached within ``timeout``
    seconds (default ``CONNECT_TIMEOUT``)."""
    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    kind, workers = parse_cluster(spec)
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise ValueError(f"--cluster needs Dask distributed, which is not installed: {_INSTALL}"
                         ) from None
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        if kind == "local":
            # each worker's TensorFlow gets its share of the cores rather than all of them
            threads = str(max(1, (os.cpu_count() or 1) // workers))
            with warnings.catch_warnings():  # a busy port 8787: the scheduler takes a free one
                warnings.filterwarnings("ignore", message=r"Port \d+ is already in use")
                cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address=None, silence_logs=logging.ERROR,
                    env={"TF_NUM_INTRAOP_THREADS": threads, "OMP_NUM_THREADS": threads,
                         "TF_CPP_MIN_LOG_LEVEL": "2"})
            with cluster, Client(cluster, set_as_default=False) as client:
                yield client
            return
        try:
            client = Client(spec, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ValueError(f"cannot reach the cluster scheduler at {spec} "
                             f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                             ) from None
        with client:
            _check_remote(client, spec, timeout)
            yield client


def _check_remote(client, spec: str, timeout: float) -> None:
    """Raise ValueError unless the scheduler at ``spec`` has a worker within ``timeout`` seconds
    and it and its workers can import this project (they unpickle its tasks)."""
    import pkgutil

    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise ValueError(f"the scheduler at {spec} has no workers (waited {timeout:.0f} s); start "
                         f"some with: dask worker {spec}") from None
    module = f"{__name__}:__name__"
    try:
        client.run_on_scheduler(pkgutil.resolve_name, module)
        client.run(pkgutil.resolve_name, module)
    except ImportError as exc:
        raise ValueError(f"the scheduler at {spec} or one of its workers cannot import this "
                         f"project ({exc}): start them with the project folder on PYTHONPATH, "
                         "or install it there (docs/cluster.md)") from None


def cluster_scan(entries: list[FileEntry], detector: Detector, cluster, *,
                 models_dir: str | os.PathLike = MODELS_DIR, view: str = "resize",
                 check_stability: bool = True, chunk: int = SCAN_CHUNK,
                 progress: ProgressFn = silent) -> list[dict]:
    """``scanning.scan`` of listed files on a cluster: the same rows in the same order.

    ``cluster`` is a Dask client or a ``connect`` spec (a cluster is then opened for this scan).
    Each worker loads ``detector``'s models (names and ensemble) from ``models_dir`` once;
    that path and the files' paths must be the same on every worker (shared storage). Raises
    ValueError when a worker's models differ from ``detector``'s (their sha256).
    """
    if isinstance(cluster, str):
        with connect(cluster) as client:
            return cluster_scan(entries, detector, client, models_dir=models_dir, view=view,
                                check_stability=check_stability, chunk=chunk,
                                progress=progress)
    from distributed import KilledWorker, as_completed

    chunks = [entries[start:start + chunk] for start in range(0, len(entries), chunk)]
    spec = (tuple(detector.names), tuple(detector.ensemble), tuple(detector.tta),
            str(Path(models_dir).resolve()),
            {name: p.sha256 for name, p in detector.predictors.items()})
    progress(0.0, f"Scanning {len(entries):,} files in {len(chunks):,} chunks")
    futures = [cluster.submit(_score_chunk, part, spec, view, check_stability, pure=False)
               for part in chunks]
    try:
        done = 0
        for _ in as_completed(futures, loop=cluster.loop):
            done += 1
            progress(done / len(chunks), f"Scanned {done:,} / {len(chunks):,} chunks")
        rows = [row for part in cluster.gather(futures) for row in part]
    except KilledWorker as exc:
        raise ValueError(f"a chunk of the scan lost its worker more than {ALLOWED_FAILURES} "
                         f"times (out of memory, or killed?): {exc}") from None
    finally:
        cluster.cancel(futures)
    progress(1.0, f"Scanned {len(rows):,} files")
    return rows


_LOADED: dict[tuple, Detector] = {}  # this worker's detectors, by model names and folder
_LOADING = threading.Lock()


def _score_chunk(entries: list[FileEntry], spec: tuple, view: str,
                 check_stability: bool) -> list[dict]:
    """On a worker: the rows of one chunk, with this worker's copy of the detector."""
    names, ensemble, tta, models_dir, digests = spec
    key = (names, ensemble, tta, models_dir)
    with _LOADING:
        detector = _LOADED.get(key)
        if detector is None or _digests(detector) != digests:  # first use, or files replaced
            if len(_LOADED) >= 2:
                _LOADED.clear()
            detector = _LOADED[key] = load_detector(list(names), ensemble=list(ensemble),
                                                    models_dir=models_dir, tta=list(tta))
    if _digests(detector) != digests:
        import socket

        raise ValueError(f"the models in {models_dir} on worker {socket.gethostname()} differ "
                         "from the client's; give every machine the same models folder")
    return score_files(read_entries(entries), detector, view=view,
                       check_stability=check_stability)


def _digests(detector: Detector) -> dict[str, str]:
    return {name: p.sha256 for name, p in detector.predictors.items()}
