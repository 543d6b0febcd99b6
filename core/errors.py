"""Errors that carry a message meant for the user (shown as-is by the app and the CLI)."""

__all__ = ["DataError", "ImageError"]


class DataError(Exception):
    """The dataset source is missing, unreadable or has no usable REAL/FAKE images."""


class ImageError(ValueError):
    """One image could not be decoded; the message says why in plain words."""
