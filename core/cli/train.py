"""``python -m core train``: its options and work are ``core.models.train.main``."""

from __future__ import annotations

from core.models.train import main

__all__ = ["main"]
