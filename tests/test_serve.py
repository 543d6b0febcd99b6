"""The prediction service (``core.serve``): every route in-process through the framework's test
client, each bad input, authentication on and off, 16 concurrent clients, equality of its rows
with ``core.detect.scanning.scan`` (what ``python -m core predict`` runs), and a real
``python -m core serve`` process on a loopback port."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from tempfile import SpooledTemporaryFile

import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from helpers import REPO_ROOT, bad_input_battery, encode, free_port, jpeg, png, run_cli

from core.cli import main as cli_main
from core.cli.serve import is_loopback
from core.data.imageio import decode_image
from core.detect.detector import load_detector, prepare
from core.detect.explain import Explainer
from core.detect.scanning import iter_uploads, rows_to_csv, scan
from core.models.artifacts import read_report
from core.serve.app import create_app
from core.serve.service import METHODS, Service

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MB = 2**20


@pytest.fixture(scope="module")
def service() -> Service:
    """The shipped scanner, loaded once for the module."""
    return Service.load(["scanner"])


@pytest.fixture(scope="module")
def scanner(service):
    """``load_detector(["scanner"])`` as ``python -m core predict`` builds it, sharing the
    loaded model."""
    return load_detector(["scanner"], load=service.detector.predictors.__getitem__)


@pytest.fixture(scope="module")
def client(service):
    with TestClient(create_app(service, max_body_bytes=MB)) as client:
        yield client


@pytest.fixture(scope="module")
def locked(service):
    with TestClient(create_app(service, token=TOKEN)) as client:
        yield client


def expected(files, detector, **options) -> list[dict]:
    """The rows of ``python -m core predict`` for uploaded ``(name, bytes)`` files."""
    return scan(iter_uploads(files), detector, **options)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# ---------------------------------------------------------------- descriptions


def test_health_lists_the_loaded_models_and_their_versions(client):
    answer = client.get("/health")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok" and body["ensemble"] == ["scanner"]
    assert body["pid"] == os.getpid()
    assert [(m["name"], m["sha256"]) for m in body["models"]] == [
        ("scanner", read_report("scanner")["sha256"])]
    assert body["limits"]["max_pixels"] == 50_000_000


def test_models_lists_every_evaluated_model_with_its_figures(client):
    table = {m["name"]: m for m in client.get("/models").json()}
    assert {"scanner", "flagship", "logreg"} <= set(table)
    assert [n for n, m in table.items() if m["loaded"]] == ["scanner"]
    report = read_report("flagship")
    assert table["flagship"] == {
        "name": "flagship", "family": "cnn", "threshold": report["threshold"],
        "test_accuracy": report["metrics"]["test"]["at_threshold"]["accuracy"],
        "leakfree_accuracy": report["metrics"]["leakfree_test"]["at_threshold"]["accuracy"],
        "auroc": report["metrics"]["test"]["roc_auc"],
        "leakfree_auroc": report["metrics"]["leakfree_test"]["roc_auc"],
        "sha256": report["sha256"], "loaded": False}


def test_docs_and_openapi_describe_every_route(client):
    """/docs works without the internet: its scripts come from the service, not a CDN."""
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text
    script = next(s for s in docs.text.split('"') if s.endswith("swagger-ui-bundle.js"))
    assert client.get(script).status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths) == {"/health", "/models", "/predict", "/predict/batch", "/explain"}


# ---------------------------------------------------------------- verdicts


def test_predict_returns_the_row_of_core_predict(client, scanner):
    files = [("a.jpg", jpeg(1)), ("b.png", png(2)), ("wide.jpg", jpeg(3, (48, 80)))]
    for name, data in files:
        answer = client.post("/predict", files={"file": (name, data)})
        assert answer.status_code == 200
        assert answer.json() == expected([(name, data)], scanner)[0]
    row = client.post("/predict", files={"file": files[2]},
                      params={"model": "scanner", "view": "crop", "stability": "false"}).json()
    assert row == expected([files[2]], scanner, view="crop", check_stability=False)[0]
    assert "stability" not in row and row["width"] == 80 and row["height"] == 48


def test_batch_scores_files_and_zips_with_an_error_row_per_bad_member(client, scanner):
    files = [("set.zip", zip_bytes({"x/a.jpg": jpeg(4), "b.png": b"garbage", "c.jpg": b"",
                                    "notes.txt": b"skipped"})),
             ("d.jpg", jpeg(5))]
    answer = client.post("/predict/batch", files=[("files", f) for f in files])
    assert answer.status_code == 200
    rows = answer.json()
    assert rows == expected(files, scanner)
    assert [(r["path"], r["status"]) for r in rows] == [
        ("set.zip/b.png", "error"), ("set.zip/c.jpg", "error"), ("set.zip/x/a.jpg", "ok"),
        ("d.jpg", "ok")]
    assert rows[1]["message"] == "empty file (0 bytes)"
    csv = client.post("/predict/batch", files=[("files", f) for f in files],
                      params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text == rows_to_csv(rows)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("name", [n for n, (_, error) in bad_input_battery().items() if error])
def test_an_unreadable_image_gets_422_with_the_reason(client, name):
    data, error = bad_input_battery()[name]
    for route in ("/predict", "/explain"):
        answer = client.post(route, files={"file": (name, data)})
        assert answer.status_code == 422
        assert error in answer.json()["detail"]


def test_other_bad_requests_get_4xx_with_a_detail(client, service):
    image = ("a.jpg", jpeg(1))
    cases = {
        "zip to /predict": (client.post("/predict", files={"file": ("a.zip", zip_bytes({}))}),
                            422, "one image per request"),
        "model not loaded": (client.post("/predict", files={"file": image},
                                         params={"model": "flagship"}), 422,
                             "query parameter 'model': Input should be 'scanner'"),
        "no file": (client.post("/predict"), 422, "file"),
        "unknown method": (client.post("/explain", files={"file": image},
                                       params={"method": "lime"}), 422, "gradcam"),
        "unknown layer": (client.post("/explain", files={"file": image},
                                      params={"layer": "nope"}), 422,
                          "query parameter 'layer': Input should be"),
        "unknown parameter": (client.post("/predict", files={"file": image},
                                          params={"modle": "scanner"}), 422,
                              "unknown query parameter(s) ['modle']"),
        "declared body over 1 MB": (client.post("/predict", files={"file": (
            "big.png", bytes(MB + 1))}), 413, "over the limit of 1 MB"),
        "streamed body over 1 MB": (client.post("/predict", content=iter([bytes(2**16)] * 20),
                                                headers={"content-type": "multipart/form-data; "
                                                         "boundary=x"}),
                                    413, "over the limit of 1 MB"),
    }
    for case, (answer, status, detail) in cases.items():
        assert (case, answer.status_code) == (case, status)
        assert detail in str(answer.json()["detail"]), case
    with TestClient(create_app(service, timeout_s=0.001)) as hasty:
        answer = hasty.post("/predict", files={"file": image})
    assert answer.status_code == 504 and "longer than the 0.001 s limit" in answer.json()["detail"]
    small = Service(service.detector, max_batch_bytes=10_000)
    with TestClient(create_app(small)) as tight:
        members = {f"{i}.jpg": jpeg(i, (64, 64)) for i in range(12)}  # ~2 kB each
        answer = tight.post("/predict/batch", files={"files": ("z.zip", zip_bytes(members))})
    assert answer.status_code == 413 and "expands to more than" in answer.json()["detail"]


def test_uploads_are_never_written_to_disk(service, monkeypatch):
    """A 2 MB upload stays in memory (Starlette would roll it over to a temporary file)."""
    def to_disk(self):
        raise AssertionError("an upload was written to disk")

    monkeypatch.setattr(SpooledTemporaryFile, "rollover", to_disk)
    noise = np.random.default_rng(0).integers(0, 256, (700, 1000, 3), dtype=np.uint8)
    data = encode(noise, ".png")
    assert len(data) > 2 * MB
    with TestClient(create_app(service, max_body_bytes=8 * MB)) as roomy:
        answer = roomy.post("/predict", files={"file": ("noise.png", data)})
    assert answer.status_code == 200 and answer.json()["width"] == 1000


# ---------------------------------------------------------------- heat maps


def test_explain_returns_the_heat_map_of_the_page_as_png(client, service):
    data = jpeg(6)
    raw = client.post("/explain", files={"file": ("a.jpg", data)}, params={"output": "raw"})
    assert raw.status_code == 200 and raw.headers["content-type"] == "image/png"
    assert raw.headers["x-model"] == "scanner" and raw.headers["x-layer"] == "last_conv"
    heat = cv2.imdecode(np.frombuffer(raw.content, np.uint8), cv2.IMREAD_UNCHANGED)
    x = prepare(decode_image(data), 32)
    p_fake = float(service.detector.predictors["scanner"].predict(x[None])[0])
    target = "FAKE" if p_fake >= service.detector.threshold("scanner") else "REAL"
    assert raw.headers["x-target"] == target
    reference = Explainer(service.detector.predictors["scanner"].model).heatmap(
        x, "Grad-CAM", target=target)
    np.testing.assert_array_equal(heat, (reference * 255).round().astype(np.uint8))
    shown = client.post("/explain", files={"file": ("a.jpg", data)},
                        params={"target": "FAKE", "opacity": 0.7, "colormap": "inferno"})
    overlay = cv2.imdecode(np.frombuffer(shown.content, np.uint8), cv2.IMREAD_UNCHANGED)
    assert overlay.shape == (256, 256, 3) and shown.headers["x-target"] == "FAKE"


@pytest.mark.parametrize("method", [m for m in METHODS if m != "gradcam"])
def test_every_heat_map_method_answers(client, method):
    answer = client.post("/explain", files={"file": ("a.jpg", jpeg(7))},
                         params={"method": method, "output": "raw"})
    assert answer.status_code == 200 and answer.headers["x-method"] == method
    heat = cv2.imdecode(np.frombuffer(answer.content, np.uint8), cv2.IMREAD_UNCHANGED)
    assert heat.shape == (32, 32) and heat.dtype == np.uint8


# ---------------------------------------------------------------- authentication


def test_every_route_but_health_needs_the_token(locked):
    image = {"file": ("a.jpg", jpeg(1))}
    calls = {"/models": lambda **kw: locked.get("/models", **kw),
             "/predict": lambda **kw: locked.post("/predict", files=image, **kw),
             "/predict/batch": lambda **kw: locked.post("/predict/batch",
                                                        files={"files": image["file"]}, **kw),
             "/explain": lambda **kw: locked.post("/explain", files=image, **kw)}
    for route, call in calls.items():
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            answer = call(headers=headers)
            assert (route, answer.status_code) == (route, 401)
            assert answer.headers["www-authenticate"] == "Bearer"
            assert "bearer token" in answer.json()["detail"]
        assert (route, call(headers=AUTH).status_code) == (route, 200)
    assert locked.get("/health").status_code == 200


def test_the_command_warns_when_listening_beyond_this_machine_without_a_token(tmp_path, capsys):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    assert cli_main(["serve", "--host", "0.0.0.0", "--model", "no_such_model"]) == 2
    err = capsys.readouterr().err
    assert "warning: listening on 0.0.0.0 without --token-file" in err
    assert "error: unknown model(s) ['no_such_model']" in err
    empty = tmp_path / "token"
    empty.write_text("\n")
    assert cli_main(["serve", "--host", "0.0.0.0", "--token-file", str(empty)]) == 2
    assert capsys.readouterr().err == f"error: the token file {empty} is empty\n"


# ---------------------------------------------------------------- load


@pytest.mark.slow
def test_sixteen_concurrent_clients_all_get_correct_answers(service, scanner):
    """16 clients x 25 single-image requests, all 200 with their image's row, in bounded time;
    /health answers within a second while a large batch is scored."""
    images = [(f"{i}.jpg", jpeg(100 + i)) for i in range(16)]
    rows = {name: row for name, row in zip((n for n, _ in images), expected(images, scanner))}
    batch = [("batch.zip", zip_bytes({f"{i}.jpg": jpeg(i) for i in range(600)}))]
    app = create_app(service, timeout_s=60)

    async def run() -> tuple[list, float, float]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serve") as http:
            async def one_client(name: str, data: bytes) -> list:
                return [await http.post("/predict", files={"file": (name, data)})
                        for _ in range(25)]

            scoring = asyncio.ensure_future(http.post("/predict/batch", files={
                "files": batch[0]}))
            await asyncio.sleep(0.2)
            health = await http.get("/health")  # answers while the batch is scored
            assert health.status_code == 200 and not scoring.done()
            await scoring
            return await asyncio.gather(*(one_client(n, d) for n, d in images))

    answers = asyncio.run(asyncio.wait_for(run(), 180))
    assert len([a for client in answers for a in client]) == 16 * 25
    for (name, _), client in zip(images, answers):
        assert {a.status_code for a in client} == {200}
        assert all(a.json() == rows[name] for a in client)


# ---------------------------------------------------------------- a real process


@pytest.mark.slow
def test_the_command_serves_with_two_workers_on_a_loopback_port(tmp_path, scanner):
    """``python -m core serve --workers 2`` as the docs start it: two processes, each with the
    models loaded, answer on one port (their pids differ in /health); /health is open, the token
    is required, the rows are those of ``python -m core predict``; SIGTERM stops both."""
    (tmp_path / "token").write_text(TOKEN + "\n")
    images = [("a.jpg", jpeg(8)), ("b.png", png(9)), ("c.jpg", jpeg(10, (40, 60)))]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "core", "serve", "--port", str(port), "--workers", "2",
         "--token-file", str(tmp_path / "token")], cwd=REPO_ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    base = f"http://127.0.0.1:{port}"
    pids: set[int] = set()
    try:
        deadline = time.monotonic() + 300  # two TensorFlow start-ups on 2 busy cores
        while len(pids) < 2:  # fresh connections until both workers have answered
            assert server.poll() is None, server.stdout.read()
            assert time.monotonic() < deadline, f"only workers {pids} answered in 300 s"
            try:
                with ThreadPoolExecutor(8) as pool:
                    answers = list(pool.map(lambda _: httpx.get(f"{base}/health", timeout=10),
                                            range(16)))
                pids.update(a.json()["pid"] for a in answers if a.status_code == 200)
            except httpx.TransportError:
                time.sleep(0.5)
        assert all(a.json()["models"][0]["name"] == "scanner" for a in answers
                   if a.status_code == 200)
        with httpx.Client(base_url=base, timeout=30) as http:
            assert http.post("/predict", files={"file": images[0]}).status_code == 401
            rows = [http.post("/predict", files={"file": image}, headers=AUTH).json()
                    for image in images]
        assert rows == expected(images, scanner)
        assert server.pid not in pids
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=60)[0]
    assert server.returncode == 0, output
    assert "Traceback" not in output and "with 2 worker process(es)" in output
    for pid in pids:  # the workers are gone, not orphaned
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.parametrize("port", ["99999", "0", "http"])
def test_the_command_refuses_a_port_out_of_range_before_loading_models(port):
    result = run_cli("serve", "--port", port)
    assert result.returncode == 2
    assert f"'{port}' is not a port number (1-65535)" in result.stderr
    assert "Traceback" not in result.stderr
