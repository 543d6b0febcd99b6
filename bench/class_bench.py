"""A class at once: N browser sessions open the same views of one ``streamlit run`` together.

``python bench/run.py --only class`` runs it. One headless Chromium holds N Playwright contexts
(one per student, each with its own cache and cookies) against one server on loopback. All
sessions open the first view at once, wait for each other, then open the second and the third
(each view is a link opened in the same browser context, as a student follows the teacher's
links). Reported per N: the seconds until the first view has finished rendering (p50, p95), the
sessions that failed (an error shown, a lost connection, or no rendered page within the time
limit), the server process's own CPU seconds per session and view (from ``/proc``: user and
system time of the server and its children, before and after) and its peak resident memory.
Before the class, one session opens the views twice to warm the caches; its second pass gives
the warm seconds per view.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from common import ROOT, app_tools

TICKS = os.sysconf("SC_CLK_TCK")
# rendered: connected, the script finished, the page's title drawn and nothing left stale
RENDERED = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app !== null && app.dataset.testConnectionState === "CONNECTED"
        && app.dataset.testScriptState === "notRunning"
        && document.querySelector('[data-testid="stMainBlockContainer"] h1') !== null
        && document.querySelectorAll('[data-stale="true"]').length === 0;
}"""


def default_steps() -> list[str]:
    """The lesson's first three steps when the app has a Lesson page, else Home, Dataset and
    Model comparison (URL paths after the server's address)."""
    if (ROOT / "pages" / "lesson.py").exists():
        return ["lesson?step=1", "lesson?step=2", "lesson?step=3"]
    return ["", "dataset", "models"]


class Server:
    """``streamlit run streamlit_app.py`` headless on a free loopback port, with its CPU time and
    resident memory read from ``/proc``."""

    def __init__(self, env: dict | None = None):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
             "--server.headless", "true", "--server.address", "127.0.0.1",
             "--server.port", str(self.port), "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            if self.process.poll() is not None:
                break
            time.sleep(0.3)
        self.__exit__()
        raise SystemExit("streamlit run did not start")

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def _pids(self) -> list[int]:
        """The server and its live child processes."""
        pids = [self.process.pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.process.pid:
                    pids.append(int(entry.name))
        return pids

    def cpu_seconds(self) -> float:
        """User and system CPU seconds of the server (and its children) so far."""
        total = 0
        for pid in self._pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        return total / TICKS

    def rss_mb(self) -> float:
        """Resident memory of the server and its children now, in MiB."""
        total = 0
        for pid in self._pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            total += next((int(line.split()[1]) for line in status.splitlines()
                           if line.startswith("VmRSS:")), 0)
        return total / 1024


class PeakMemory:
    """The highest ``rss()`` seen while the block runs (sampled every 0.2 s)."""

    def __init__(self, rss: Callable[[], float]):
        self.rss, self.peak = rss, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            self._stop.wait(0.2)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())


async def _open(page, url: str, timeout_s: float) -> float | None:
    """Seconds until the view at ``url`` has rendered; None when it failed (an exception shown,
    no rendered page in ``timeout_s``, a lost connection)."""
    start = time.perf_counter()
    try:
        await page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        await page.wait_for_function(RENDERED, timeout=max(1.0, timeout_s - (
            time.perf_counter() - start)) * 1000, polling=100)
    except Exception:  # noqa: BLE001 - a timeout or a closed page: the session failed
        return None
    seconds = time.perf_counter() - start
    if await page.locator('[data-testid="stException"]').count():
        return None
    return seconds


async def _class(base: str, steps: list[str], sessions: int, timeout_s: float, *,
                 passes: int = 1, cpu: Callable[[], float] = lambda: 0.0
                 ) -> tuple[list[list[float | None]], list[float]]:
    """Seconds per session (rows) and view (columns), all sessions opening each view together,
    and the ``cpu()`` seconds spent during each view."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        tools = app_tools()
        browser = await p.chromium.launch(executable_path=tools.CHROMIUM,
                                          args=tools.CHROMIUM_ARGS)
        contexts = [await browser.new_context(viewport={"width": 1280, "height": 800})
                    for _ in range(sessions)]
        pages = [await c.new_page() for c in contexts]
        times: list[list[float | None]] = [[] for _ in range(sessions)]
        spent = []
        for _ in range(passes):
            for step in steps:
                before = cpu()
                results = await asyncio.gather(*(_open(page, f"{base}/{step}", timeout_s)
                                                 for page in pages))
                spent.append(cpu() - before)
                for row, seconds in zip(times, results):
                    row.append(seconds)
        await browser.close()
    return times, spent


def run_class(emit, *, data: Path | None, steps: list[str] | None = None,
              sizes: tuple[int, ...] = (10, 30), timeout_s: float = 300) -> None:
    """Warm the server with one session, then a class of each size in ``sizes``; ``emit`` one
    figure per line."""
    steps = steps or default_steps()
    env = {"CIFAKE_PATH": str(data)} if data else None
    with Server(env) as server:
        shown = " -> ".join(f"/{step}" for step in steps)
        warm = asyncio.run(_class(server.url, steps, 1, timeout_s, passes=2))[0][0]
        measured = [t for t in warm[len(steps):] if t is not None]
        if measured:
            emit("lesson_step_warm_s", statistics.median(measured),
                 f"s (median of {len(measured)} views, 1 session: {shown})")
        for n in sizes:
            with PeakMemory(server.rss_mb) as memory:
                times, spent = asyncio.run(_class(server.url, steps, n, timeout_s,
                                                  cpu=server.cpu_seconds))
            first = [row[0] for row in times if row[0] is not None]
            errors = sum(t is None for row in times for t in row)
            if first:
                for q in (50, 95):
                    emit(f"class_first_step_p{q}_s_n{n}", float(np.percentile(first, q)),
                         f"s ({n} sessions)")
            emit(f"class_errors_n{n}", errors, f"failed views of {n * len(steps)}")
            per_view = " / ".join(f"{c / n:.2f}" for c in spent)
            emit(f"class_server_cpu_s_per_session_step_n{n}", sum(spent) / (n * len(steps)),
                 f"s of server CPU ({n} sessions x {len(steps)} views; per view {per_view})")
            emit(f"class_server_peak_mb_n{n}", memory.peak, "MiB resident")

