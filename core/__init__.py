"""CIFAKE Explorer core: data loading, statistics and embeddings, free of any UI code."""

__all__ = ["DataError"]

from core.errors import DataError
