"""The stability check: whether a verdict holds when the image is mirrored, re-saved as JPEG q95 or
q90, or shifted by one pixel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.perturb import STABILITY_CHECKS
from core.detect.detector import ENSEMBLE, Detector

__all__ = ["Stability", "stability"]


@dataclass(frozen=True)
class Stability:
    """The stability check of a batch of model inputs.

    Attributes
    ----------
    original : dict of name -> ndarray
        P(FAKE) of every model and of the ensemble for each input.
    degraded : dict of check -> (dict of name -> ndarray)
        The same for the copies changed by each of ``STABILITY_CHECKS``.
    inputs : dict of check -> ndarray
        The changed copies.
    flipped : dict of check -> (dict of name -> bool ndarray)
        Per input, whether that check's copy lands on the other side of the model's threshold
        than the original.
    """

    original: dict[str, np.ndarray]
    degraded: dict[str, dict[str, np.ndarray]]
    inputs: dict[str, np.ndarray]
    flipped: dict[str, dict[str, np.ndarray]]

    @property
    def flips(self) -> dict[str, np.ndarray]:
        """Per model and the ensemble, per input: whether some check flips the verdict."""
        return {name: np.any([by_check[name] for by_check in self.flipped.values()], axis=0)
                for name in self.original}

    @property
    def stable(self) -> bool:
        """Whether the ensemble's verdict on every input holds under every check."""
        return not self.flips[ENSEMBLE].any()

    def flipped_by(self, name: str, index: int = 0) -> list[str]:
        """The checks that flip model ``name``'s verdict on input ``index``."""
        return [check for check, by_check in self.flipped.items() if by_check[name][index]]


def stability(detector: Detector, inputs: np.ndarray,
              original: dict[str, np.ndarray] | None = None) -> Stability:
    """Score model inputs (unless their ``original`` scores are given) and their copies changed
    by each of ``STABILITY_CHECKS``."""
    original = detector.score(inputs) if original is None else original
    scores, flipped = {}, {}
    changed = {check: change(inputs) for check, change in STABILITY_CHECKS.items()}
    for check, copies in changed.items():
        scores[check] = detector.score(copies)
        flipped[check] = {name: (p >= detector.threshold(name))
                          != (original[name] >= detector.threshold(name))
                          for name, p in scores[check].items()}
    return Stability(original, scores, changed, flipped)
