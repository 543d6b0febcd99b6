"""The human-vs-machine quiz: balanced rounds of test images (reproducible from a round code),
scoring, and a SQLite store of finished rounds that several players can write at once.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.dataset import Dataset
from core.data.quality import leakfree_test_mask
from core.data.sources import REPO_ROOT
from core.detect.detector import Detector
from core.models.metrics import accuracy_at

__all__ = [
    "DEFAULT_ROUND_SIZE",
    "HUMAN_BASELINE",
    "QuizStore",
    "Round",
    "Score",
    "default_db",
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


def default_db() -> Path:
    """The quiz database: ``$CIFAKE_QUIZ_DB`` or ``data/quiz.sqlite`` (git-ignored)."""
    return Path(os.environ.get("CIFAKE_QUIZ_DB") or REPO_ROOT / "data" / "quiz.sqlite")


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
    rows = []
    for label, k in wanted.items():
        candidates = pool[dataset.labels[pool] == label]
        if len(candidates) < k:
            raise ValueError(f"the dataset has only {len(candidates)} "
                             f"{'REAL' if label == 0 else 'FAKE'} test images; a round of {n} "
                             f"needs {k}")
        rows.append(rng.choice(candidates, k, replace=False))
    rows = rng.permutation(np.concatenate(rows))
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


class QuizStore:
    """Finished rounds in a SQLite file (created on first use). Writes are single
    transactions in WAL mode with a busy timeout, so concurrent players do not corrupt it."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path else default_db()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("""CREATE TABLE IF NOT EXISTS rounds (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            finished REAL NOT NULL,
            player TEXT NOT NULL,
            code TEXT NOT NULL,
            n INTEGER NOT NULL,
            correct INTEGER NOT NULL,
            accuracy REAL NOT NULL,
            answers TEXT NOT NULL,
            truth TEXT NOT NULL,
            models TEXT NOT NULL)""")
        return connection

    def save(self, *, player: str, code: str, answers: list[int], labels: np.ndarray,
             model_accuracy: dict[str, float]) -> int:
        """Store one finished round; returns its id."""
        player = player.strip()[:40] or "anonymous"
        result = score(answers, labels)
        with closing(self._connect()) as connection, connection:
            cursor = connection.execute(
                "INSERT INTO rounds (finished, player, code, n, correct, accuracy, answers, "
                "truth, models) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), player, code, result.total, result.correct, result.accuracy,
                 json.dumps([int(a) for a in answers]), json.dumps([int(t) for t in labels]),
                 json.dumps(model_accuracy)))
            return int(cursor.lastrowid)

    def rounds(self) -> list[dict]:
        """Every stored round, newest first."""
        if not self.path.exists():
            return []
        with closing(self._connect()) as connection:
            connection.row_factory = sqlite3.Row
            rows = connection.execute("SELECT * FROM rounds ORDER BY id DESC").fetchall()
        return [{**dict(r), "answers": json.loads(r["answers"]), "truth": json.loads(r["truth"]),
                 "models": json.loads(r["models"])} for r in rows]
