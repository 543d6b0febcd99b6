"""``python -m core predict``: its options and work are ``core.detect.predict.main``."""

from __future__ import annotations

from core.detect.predict import main

__all__ = ["main"]
