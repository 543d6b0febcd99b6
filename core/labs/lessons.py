"""Lessons as data: one TOML file per lesson in ``lessons/``, each a title and a list of steps,
each step a text to read out, teacher notes, a duration and a view of the registry
(``core.labs.lesson_views``) with its settings.

``load_lessons`` reads a folder: the lessons that are valid, and for each file that is not, a
problem naming the file, the step (number and title) and the key. ``locate`` turns the URL's
``lesson``, ``step`` and ``presenter`` values into a position in a lesson, with a notice for each
value it could not use.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from core.data.sources import REPO_ROOT
from core.labs.lesson_views import VIEWS

__all__ = ["LESSONS_DIR", "Lesson", "LessonError", "Lessons", "Position", "Problem", "Step",
           "day_code", "load_lessons", "locate", "parse_lesson"]

LESSONS_DIR = REPO_ROOT / "lessons"
DEFAULT_ORDER = 100
MAX_MINUTES = 60
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,59}")
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # the quiz's codes: no look-alikes
_ON = ("true", "on", "1", "yes")
_OFF = ("false", "off", "0", "no")


@dataclass(frozen=True)
class Step:
    """One step of a lesson.

    Attributes
    ----------
    title, text : str
        The step's title and the text to read out or project (Markdown).
    minutes : float
        The time the step takes in class.
    view : str
        A view of ``core.labs.lesson_views.VIEWS``.
    settings : dict
        Every setting of the view: the step's values, defaults for the others (lists as tuples).
    points : tuple of str
        Teacher notes: talking points.
    question, answer : str
        Teacher notes: the question to ask the class and the expected answer.
    """

    title: str
    text: str
    minutes: float
    view: str
    settings: Mapping[str, Any]
    points: tuple[str, ...] = ()
    question: str = ""
    answer: str = ""


@dataclass(frozen=True)
class Lesson:
    """A lesson file: ``id`` is its file name without ``.toml`` (the URL's ``lesson`` value)."""

    id: str
    title: str
    summary: str
    order: int
    path: Path
    steps: tuple[Step, ...]

    @property
    def minutes(self) -> float:
        return sum(step.minutes for step in self.steps)


@dataclass(frozen=True)
class Problem:
    """What is wrong in a lesson file, and where."""

    file: str
    message: str
    step: int | None = None  # 1-based
    step_title: str | None = None
    key: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.step is not None:
            where += f", step {self.step}" + (f" (“{self.step_title}”)" if self.step_title
                                               else "")
        if self.key is not None:
            where += f", key `{self.key}`"
        return f"{where}: {self.message}"


class LessonError(ValueError):
    """A lesson file that cannot be used; ``problems`` says every reason found."""

    def __init__(self, problems: list[Problem]):
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Lessons:
    """The lessons of a folder that are valid (in order), and the problems of the others."""

    lessons: tuple[Lesson, ...]
    problems: tuple[Problem, ...]

    def find(self, lesson_id: str) -> Lesson | None:
        return next((lesson for lesson in self.lessons if lesson.id == lesson_id), None)


# key -> (type, what it must be, required) of a lesson file's top level and of a step
_LESSON_KEYS = {"title": (str, "a text", True), "summary": (str, "a text", False),
                "order": (int, "an integer", False), "steps": (list, "a list of steps", True)}
_STEP_KEYS = {"title": (str, "a text", True), "text": (str, "a text", True),
              "minutes": ((int, float), "a number of minutes", True),
              "view": (str, "the name of a view", True),
              "settings": (dict, "a table of the view's settings", False),
              "points": (list, "a list of texts", False), "question": (str, "a text", False),
              "answer": (str, "a text", False)}


def parse_lesson(path: str | os.PathLike) -> Lesson:
    """The lesson in a TOML file, every step checked against the view registry.

    Raises
    ------
    LessonError
        For bad syntax, a missing or unknown key, an unknown view or setting, or a value of the
        wrong type or out of range, naming the file, the step (number and title) and the key.
    """
    path = Path(path)
    name = path.name
    if not _ID.fullmatch(path.stem):
        raise LessonError([Problem(name, "the file name (without .toml) becomes the lesson's "
                                         "address: use lower-case letters, digits, '-' or '_'")])
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise LessonError([Problem(name, "not UTF-8 text")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise LessonError([Problem(name, f"not valid TOML: {exc}")]) from None
    except OSError as exc:
        raise LessonError([Problem(name, f"cannot be read: {exc.strerror or exc}")]) from None
    problems = _check_keys(data, _LESSON_KEYS, lambda key, message: Problem(name, message,
                                                                              key=key))
    steps: list[Step] = []
    if isinstance(data.get("steps"), list):
        if not data["steps"]:
            problems.append(Problem(name, "a lesson needs at least one step", key="steps"))
        for number, table in enumerate(data["steps"], start=1):
            step, found = _parse_step(name, number, table)
            problems += found
            if step is not None:  # else ``found`` says why
                steps.append(step)
    if problems:
        raise LessonError(problems)
    return Lesson(id=path.stem, title=data["title"].strip(), summary=data.get("summary", ""),
                  order=data.get("order", DEFAULT_ORDER), path=path, steps=tuple(steps))


def _check_keys(table: dict, keys: dict, problem) -> list[Problem]:
    """Problems of a table's keys: unknown, missing, of the wrong type or empty."""
    found = [problem(key, f"unknown key; expected one of: {', '.join(keys)}")
             for key in table if key not in keys]
    for key, (kind, what, required) in keys.items():
        if key not in table:
            if required:
                found.append(problem(key, "missing"))
            continue
        value = table[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            found.append(problem(key, f"{value!r} is not {what}"))
        elif kind is str and required and not value.strip():
            found.append(problem(key, "empty"))
    return found


def _parse_step(name: str, number: int, table: Any) -> tuple[Step | None, list[Problem]]:
    if not isinstance(table, dict):
        return None, [Problem(name, "a step must be a table ([[steps]])", step=number)]
    title = table.get("title") if isinstance(table.get("title"), str) else None

    def problem(key: str, message: str) -> Problem:
        return Problem(name, message, step=number, step_title=title, key=key)

    problems = _check_keys(table, _STEP_KEYS, problem)
    minutes = table.get("minutes")
    if isinstance(minutes, int | float) and not isinstance(minutes, bool) \
            and not 0 < minutes <= MAX_MINUTES:
        problems.append(problem("minutes", f"{minutes!r} is out of range; expected more than 0 "
                                           f"and at most {MAX_MINUTES}"))
    points = table.get("points", [])
    if isinstance(points, list) and not all(isinstance(p, str) for p in points):
        problems.append(problem("points", "every talking point must be a text"))
    view_name = table.get("view")
    view = VIEWS.get(view_name) if isinstance(view_name, str) else None
    if isinstance(view_name, str) and view is None:
        problems.append(problem("view", f"unknown view {table['view']!r}; known views: "
                                        f"{', '.join(VIEWS)}"))
    settings = {}
    given = table.get("settings", {})
    if view is not None and isinstance(given, dict):
        settings = view.defaults()
        for key, value in given.items():
            setting = view.setting(key)
            if setting is None:
                known = ", ".join(s.name for s in view.settings) or "none"
                problems.append(problem(f"settings.{key}", f"unknown setting of the view "
                                                           f"{view.name!r}; its settings: {known}"))
                continue
            try:
                settings[key] = setting.check(value)
            except ValueError as exc:
                problems.append(problem(f"settings.{key}", str(exc)))
    if problems:
        return None, problems
    return Step(title=table["title"].strip(), text=table["text"].strip(),
                minutes=table["minutes"], view=table["view"], settings=settings,
                points=tuple(p.strip() for p in points), question=table.get("question", "").strip(),
                answer=table.get("answer", "").strip()), []


def load_lessons(folder: str | os.PathLike = LESSONS_DIR) -> Lessons:
    """Every ``*.toml`` lesson in ``folder``: the valid ones sorted by ``order`` then file name,
    and the problems of the others (which do not stop the rest from loading)."""
    lessons: list[Lesson] = []
    problems: list[Problem] = []
    for path in sorted(Path(folder).glob("*.toml")):
        try:
            lessons.append(parse_lesson(path))
        except LessonError as exc:
            problems += exc.problems
    lessons.sort(key=lambda lesson: (lesson.order, lesson.id))
    return Lessons(tuple(lessons), tuple(problems))


@dataclass(frozen=True)
class Position:
    """Where a link points: a lesson, a step (1-based), presenter mode, and a notice for each
    URL value that could not be used."""

    lesson: Lesson
    step: int
    presenter: bool
    notices: tuple[str, ...] = ()


def locate(lessons: Lessons, *, lesson: str | None = None, step: str | None = None,
           presenter: str | None = None) -> Position:
    """The position the URL values ``lesson`` (an id), ``step`` (1 to the number of steps) and
    ``presenter`` (true/false, on/off, 1/0, yes/no) point to; a missing or bad value falls back
    to the first lesson, step 1 and student mode, with a notice for a bad one.

    Raises
    ------
    ValueError
        If there are no lessons.
    """
    if not lessons.lessons:
        raise ValueError("no lessons")
    notices = []
    chosen = lessons.lessons[0]
    if lesson is not None:
        found = lessons.find(lesson.strip())
        if found is None:
            notices.append(f"No lesson “{_shorten(lesson)}”: showing “{chosen.title}”.")
        else:
            chosen = found
    number = 1
    if step is not None:
        text = step.strip()
        if text.isdigit() and 1 <= int(text) <= len(chosen.steps):
            number = int(text)
        else:
            notices.append(f"No step “{_shorten(step)}” in “{chosen.title}” (steps 1 to "
                           f"{len(chosen.steps)}): showing step 1.")
    on = False
    if presenter is not None:
        value = presenter.strip().lower()
        if value in _ON or value in _OFF:
            on = value in _ON
        else:
            notices.append(f"Presenter mode “{_shorten(presenter)}” is neither on nor off: "
                           "showing student mode.")
    return Position(chosen, number, on, tuple(notices))


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def day_code(lesson_id: str, day: date) -> str:
    """A six-character quiz round code that is the same for everyone following ``lesson_id`` on
    ``day`` (and differs from day to day)."""
    digest = hashlib.blake2b(f"{lesson_id}:{day.isoformat()}".encode(), digest_size=6).digest()
    return "".join(_CODE_ALPHABET[b % len(_CODE_ALPHABET)] for b in digest)
