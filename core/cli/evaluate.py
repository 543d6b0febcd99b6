"""``python -m core evaluate``: its options and work are ``core.models.evaluate.main``."""

from __future__ import annotations

from core.models.evaluate import main

__all__ = ["main"]
