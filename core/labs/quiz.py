"""The human-vs-machine quiz: balanced rounds of test images (reproducible from a round code)
and their scoring. Finished rounds are kept by ``core.labs.quiz_store``.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import numpy as np

from core.data.dataset import Dataset
from core.data.quality import leakfree_test_mask
from core.detect.detector import Detector
from core.models.metrics import accuracy_at

__all__ = [
    "DEFAULT_ROUND_SIZE",
    "HUMAN_BASELINE",
    "Round",
    "Score",
    "make_round",
    "model_accuracy",
    "new_code",
    "score",
]

DEFAULT_ROUND_SIZE = 15
HUMAN_BASELINE = 0.564  # mean accuracy of 63 people on CIFAKE-style images (reference study)
_CODE = re.compile(r"^[A-Z0-9]{4,12}$")


@dataclass(frozen=True)
class Round:
    """One quiz round: dataset rows to show, in order, and their true labels (1 = FAKE)."""

    code: str
    rows: np.ndarray
    labels: np.ndarray


def new_code() -> str:
    """A fresh six-character round code (letters and digits without look-alikes)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(6))


def normalise_code(code: str) -> str:
    """Upper-case, without spaces; raises ValueError unless 4-12 letters or digits."""
    code = code.strip().upper().replace(" ", "")
    if not _CODE.match(code):
        raise ValueError("a round code is 4 to 12 letters or digits")
    return code


def make_round(dataset: Dataset, code: str, n: int = DEFAULT_ROUND_SIZE) -> Round:
    """``n`` leak-free test images, half REAL and half FAKE (one more FAKE when ``n`` is odd),
    drawn and shuffled by a generator seeded from ``code``: the same code and dataset give
    the same round on every machine."""
    code = normalise_code(code)
    if n < 2:
        raise ValueError("a round needs at least 2 images")
    pool = np.flatnonzero(leakfree_test_mask(dataset.hashes, dataset.splits))
    seed = int.from_bytes(code.encode(), "big") % 2**63
    rng = np.random.default_rng(seed)
    wanted = {0: n // 2, 1: n - n // 2}
    picked = []
    for label, k in wanted.items():
        candidates = pool[dataset.labels[pool] == label]
        if len(candidates) < k:
            raise ValueError(f"the dataset has only {len(candidates)} "
                             f"{'REAL' if label == 0 else 'FAKE'} test images; a round of {n} "
                             f"needs {k}")
        picked.append(rng.choice(candidates, k, replace=False))
    rows = rng.permutation(np.concatenate(picked))
    return Round(code, rows, dataset.labels[rows].astype(int))


@dataclass(frozen=True)
class Score:
    """How a player did in a round."""

    correct: int
    total: int
    wrong: list[int]  # positions in the round of the images answered wrongly

    @property
    def accuracy(self) -> float:
        return self.correct / self.total


def score(answers: list[int], labels: np.ndarray) -> Score:
    """Compare answers (0 REAL / 1 FAKE) with the labels."""
    if len(answers) != len(labels):
        raise ValueError(f"{len(answers)} answers for {len(labels)} images")
    right = np.asarray(answers) == np.asarray(labels)
    return Score(int(right.sum()), len(right), np.flatnonzero(~right).tolist())


def model_accuracy(detector: Detector, images: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Each model's accuracy on a round's images, at its own threshold."""
    scores = detector.score(images)
    return {name: accuracy_at(scores[name], labels, detector.threshold(name))
            for name in detector.names}
