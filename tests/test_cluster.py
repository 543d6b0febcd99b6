"""Folder scans on a cluster: the same rows as one process (CSV and JSON, row for row, in the
input order), a worker killed mid-scan loses no rows, and clear errors for a bad address or a
missing engine. The tests that start a local Dask cluster (loopback only) are slow."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
import threading
import time

import pytest
from helpers import (
    bad_input_battery,
    cli,
    encode,
    free_port,
    random_image,
    write_tree,
    write_zip,
)

from core.cli import main as cli_main
from core.detect.cluster_scan import cluster_scan, connect, parse_cluster
from core.detect.scanning import (
    MAX_FILE_BYTES,
    list_image_files,
    read_entries,
    rows_to_csv,
    rows_to_json,
    scan,
)
from core.models.artifacts import MODELS_DIR

MODELS = ["scanner", "logreg"]  # a CNN with the off-distribution features, and a classical one
needs_dask = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None and os.environ.get("CI") != "true",
    reason="Dask distributed is not installed (requirements.txt); required in CI")
# one test process holds the module's cluster (its workers load the models once)
pytestmark = pytest.mark.xdist_group("cluster")


def _folder(root, n_good: int = 12):
    """Good JPEGs and PNGs of several sizes, every broken file of the battery, a zip with good
    and broken entries, and a file over the size limit (sparse: nothing is written)."""
    files = {f"good/{i:03d}.jpg": encode(random_image(i, (32 + i % 3 * 16, 32)), ".jpg",
                                         quality=75) for i in range(n_good)}
    files |= {f"good/{i:03d}.png": encode(random_image(100 + i), ".png") for i in range(3)}
    files |= {f"broken/{name}": data for name, (data, _) in bad_input_battery().items()}
    write_tree(root, files)
    write_zip(root / "inside.zip", {"a/1.jpg": encode(random_image(50), ".jpg"),
                                    "a/2.jpg": b"not a jpeg", "a/notes.txt": b"skipped"})
    with open(root / "huge.jpg", "wb") as big:
        big.truncate(MAX_FILE_BYTES + 1)
    return root


def test_parse_cluster():
    assert parse_cluster("local") == ("local", os.cpu_count())
    assert parse_cluster("local:3") == ("local", 3)
    assert parse_cluster("tcp://10.0.0.5:8786") == ("address", 0)
    assert parse_cluster("scheduler.lan:8786") == ("address", 0)
    for bad in ("local:0", "local:x", "nowhere", "tcp://host:port"):
        with pytest.raises(ValueError, match="--cluster"):
            parse_cluster(bad)


def test_a_malformed_address_is_one_error_line(tmp_path, capsys):
    assert cli_main(["predict", str(tmp_path), "--cluster", "nowhere"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --cluster nowhere: give local, local:N or a scheduler's address such "
                   "as tcp://host:8786"]


def test_missing_engine_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    with pytest.raises(ValueError, match=r"needs Dask distributed.*pip install"):
        with connect("local:1"):
            pass


def test_chunks_do_not_change_the_rows(tmp_path):
    """Chunked single-process scans (the cluster's chunks) give the rows of one batch."""
    from helpers import stand_in_detector

    entries = list_image_files([_folder(tmp_path / "in")])
    whole = scan(read_entries(entries), stand_in_detector())
    assert scan(read_entries(entries), stand_in_detector(), chunk=4) == whole
    by_name = {os.path.basename(r["path"]): r for r in whole}
    assert by_name["huge.jpg"]["message"].startswith("file too large")
    assert by_name["2.jpg"]["status"] == "error" and by_name["1.jpg"]["status"] == "ok"


@pytest.fixture(scope="module")
def client():
    with connect("local:2") as client:
        yield client


@pytest.fixture(scope="module")
def detector():
    from core.detect.detector import load_detector

    return load_detector(MODELS)


@pytest.mark.slow
@needs_dask
def test_cluster_rows_are_the_single_process_rows(tmp_path, client, detector):
    entries = list_image_files([_folder(tmp_path / "in")])
    entries = entries[::-1]  # any input order is kept
    for chunk in (5, 1024):
        single = scan(read_entries(entries), detector, chunk=chunk)
        rows = cluster_scan(entries, detector, client, chunk=chunk)
        assert [r["path"] for r in rows] == [e.path for e in entries]
        assert rows == single
        assert rows_to_csv(rows) == rows_to_csv(single)
        assert rows_to_json(rows) == rows_to_json(single)
    status = {os.path.basename(r["path"]): (r["status"], r["message"][:14]) for r in rows}
    assert status["huge.jpg"] == ("error", "file too large")
    assert status["1.jpg"][0] == "ok" and status["2.jpg"][0] == "error"
    readable = sum(expected is None for _, expected in bad_input_battery().values())
    assert sum(s == "ok" for s, _ in status.values()) == 12 + 3 + 1 + readable
    assert len({r["ood_ratio"] for r in rows if r["status"] == "ok"}) > 1


@pytest.mark.slow
@needs_dask
def test_a_detector_with_test_time_augmentation_gives_the_same_rows(tmp_path, client):
    from core.detect.detector import load_detector

    with_tta = load_detector(["scanner"], tta=["scanner"])
    entries = list_image_files([_folder(tmp_path / "in")])
    rows = cluster_scan(entries, with_tta, client, chunk=8)
    assert rows == scan(read_entries(entries), with_tta, chunk=8)
    plain = scan(read_entries(entries), load_detector(["scanner"]), chunk=8)
    assert [r["p_fake_scanner"] for r in rows] != [r["p_fake_scanner"] for r in plain]


@pytest.mark.slow
@needs_dask
def test_a_killed_worker_loses_no_rows(tmp_path, client, detector):
    """A worker process killed while it scans: its chunks run again elsewhere, every file is
    in the output exactly once, with the single-process rows."""
    entries = list_image_files([_folder(tmp_path / "in", n_good=240)])
    single = scan(read_entries(entries), detector, chunk=2)
    client.wait_for_workers(2)  # the module's cluster: its nanny replaces the worker killed here
    pids = client.run(os.getpid)
    done, result = [], {}
    scan_thread = threading.Thread(target=lambda: result.update(rows=cluster_scan(
        entries, detector, client, chunk=2, progress=lambda f, m: done.append(f))))
    scan_thread.start()
    victim, deadline = None, time.monotonic() + 300
    while victim is None and time.monotonic() < deadline:
        busy = [w for w, keys in client.processing().items() if keys and w in pids]
        if len(done) > 5 and busy:
            victim = busy[0]
        time.sleep(0.05)
    assert victim is not None, "the scan never had a busy worker"
    os.kill(pids[victim], signal.SIGKILL)
    assert done[-1] < 1  # killed mid-scan
    scan_thread.join(timeout=600)
    rows = result["rows"]
    assert [r["path"] for r in rows] == [e.path for e in entries]  # each file once, in order
    assert rows == single


@pytest.mark.slow
@needs_dask
def test_cli_predict_and_evaluate_on_a_cluster(tmp_path, client, detector):
    """predict on a running scheduler's address, evaluate --on on a local cluster: the files
    the single-process scan writes."""
    from core.detect.detector import load_detector
    from core.labs.own_data import evaluate_on

    folder = _folder(tmp_path / "in")
    models = [arg for name in MODELS for arg in ("--model", name)]
    result = cli("predict", folder, *models, "--csv", tmp_path / "scan.csv",
                 "--cluster", client.scheduler.address)
    assert result.returncode == 0, result.stderr
    single = scan(read_entries(list_image_files([folder])), detector)
    assert (tmp_path / "scan.csv").read_text() == rows_to_csv(single)

    labelled = write_tree(tmp_path / "own", {
        f"{label}/{i}.jpg": encode(random_image(i + 40 * (label == "FAKE")), ".jpg", quality=75)
        for label in ("REAL", "FAKE") for i in range(20)} | {"FAKE/bad.jpg": b"broken"})
    result = cli("evaluate", "--on", labelled, "--model", "logreg", "--json",
                 tmp_path / "own.json", "--cluster", "local:1")
    assert result.returncode == 0, result.stderr
    expected = evaluate_on(labelled, load_detector(["logreg"]), models_dir=MODELS_DIR)
    assert json.loads((tmp_path / "own.json").read_text()) == expected


@needs_dask
@pytest.mark.filterwarnings("ignore:Port")  # another cluster's web server on 8787
def test_a_scheduler_without_workers_is_refused():
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None) as empty:
        with pytest.raises(ValueError, match="has no workers"):
            with connect(empty.scheduler_address, timeout=1):
                pass


@pytest.mark.slow
@needs_dask
def test_cli_unreachable_scheduler_is_one_error_line(tmp_path, monkeypatch):
    from core.detect import cluster_scan

    monkeypatch.setattr(cluster_scan, "CONNECT_TIMEOUT", 2)  # not the 10 s a user waits

    port = free_port()  # nobody listens on it
    write_tree(tmp_path / "in", {"a.jpg": encode(random_image(1), ".jpg")})
    result = cli("predict", tmp_path / "in", "--model", "logreg",
                 "--cluster", f"tcp://127.0.0.1:{port}")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [line for line in result.stderr.splitlines() if "Traceback" in line
                      or line.startswith("error:")]
    assert len(errors) == 1 and f"cannot reach the cluster scheduler at tcp://127.0.0.1:{port}" \
        in errors[0]
    assert result.stdout == ""
