"""What the benchmarks share: printing a figure, timing a call, and the tooling that runs the app
headless in Chromium (``tests/screenshots.py``, loaded from its file)."""

from __future__ import annotations

import importlib.util
import json
import time
from functools import cache
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def emit(figure: str, value: float, unit: str) -> None:
    """Print one figure as a JSON line."""
    print(json.dumps({"figure": figure, "value": round(value, 3), "unit": unit}), flush=True)


def timed(fn):
    """``(fn(), seconds it took)``."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


@cache
def app_tools() -> ModuleType:
    """``tests/screenshots.py``: Chromium's path and flags, the headless app server and the wait
    for a finished script run, shared with the browser tests."""
    spec = importlib.util.spec_from_file_location("screenshots", ROOT / "tests" / "screenshots.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
