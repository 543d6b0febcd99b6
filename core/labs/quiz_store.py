"""Where finished quiz rounds are kept: one SQL schema through SQLAlchemy Core, in a SQLite file
by default or in a PostgreSQL database that several replicas of the app share.

``$CIFAKE_QUIZ_DB`` chooses: unset, ``data/quiz.sqlite``; a path, that SQLite file; a
``postgresql://`` (or ``postgresql+psycopg://``) URL, that database. The tables are created on
first use, with a schema version that later versions migrate from (``MIGRATIONS``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sqlalchemy import (
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    Table,
    Text,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from core.data.sources import REPO_ROOT
from core.labs.quiz import score

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "QuizStore", "QuizStoreError", "database_url"]

SCHEMA_VERSION = 1
# MIGRATIONS[n] takes a database at version n - 1 to version n (inside the set-up transaction);
# version 1, the first, is the one the app stored before versions were recorded
MIGRATIONS: dict[int, Callable[[Connection], None]] = {}

metadata = MetaData()
rounds_table = Table(
    "rounds", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("finished", Float, nullable=False),  # seconds since the epoch (UTC)
    Column("player", Text, nullable=False),
    Column("code", Text, nullable=False),
    Column("n", Integer, nullable=False),
    Column("correct", Integer, nullable=False),
    Column("accuracy", Float, nullable=False),
    Column("answers", Text, nullable=False),  # JSON lists and object
    Column("truth", Text, nullable=False),
    Column("models", Text, nullable=False),
    sqlite_autoincrement=True)
version_table = Table("schema_version", metadata, Column("version", Integer, nullable=False))

_SETUP_LOCK = 0x43494641  # PostgreSQL advisory lock taken while a replica creates the tables
_engines: dict[str, Engine] = {}
_ready: set[str] = set()
_lock = threading.Lock()


class QuizStoreError(Exception):
    """The quiz database cannot be reached or used; the message says what to check (and never
    holds the password)."""


def database_url(value: str | os.PathLike | None = None) -> URL:
    """The SQLAlchemy URL of the quiz database: ``value``, else ``$CIFAKE_QUIZ_DB``, else
    ``data/quiz.sqlite``. A ``postgresql://`` URL is served by psycopg 3; anything that is not
    a URL is a SQLite file path. Raises QuizStoreError for another kind of URL."""
    value = str(value or os.environ.get("CIFAKE_QUIZ_DB") or REPO_ROOT / "data" / "quiz.sqlite")
    if "://" not in value:
        return URL.create("sqlite", database=str(Path(value).expanduser()))
    try:
        url = make_url(value)
    except ArgumentError:
        raise QuizStoreError("the quiz database URL cannot be read; expected "
                             "postgresql://USER:PASSWORD@HOST:PORT/DATABASE or a file path") \
            from None
    if url.drivername in ("postgresql", "postgresql+psycopg"):
        return url.set(drivername="postgresql+psycopg")
    if url.drivername == "sqlite":
        return url
    raise QuizStoreError(f"the quiz database must be PostgreSQL (postgresql://...) or a SQLite "
                         f"file path, not {url.drivername}://")


def _engine(url: URL) -> Engine:
    """The pooled engine of ``url``, one per process."""
    key = url.render_as_string(hide_password=False)
    with _lock:
        if key not in _engines:
            _engines[key] = _sqlite_engine(url) if url.drivername == "sqlite" else create_engine(
                url, pool_size=5, max_overflow=10, pool_pre_ping=True,
                connect_args={"connect_timeout": 5})
        return _engines[key]


def _sqlite_engine(url: URL) -> Engine:
    """A SQLite engine in WAL mode (readers never wait for the writer) whose writes wait up to
    30 s for the file's lock. Transactions begin explicitly, and ``BEGIN IMMEDIATE`` for a
    connection with the ``write`` option, so that a writer takes the lock before it reads
    (no upgrade from a stale snapshot that would fail at once)."""
    if url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # the driver's own BEGIN is off; see _begin
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA busy_timeout=30000")

    @event.listens_for(engine, "begin")
    def _begin(connection):
        immediate = connection.get_execution_options().get("write")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class QuizStore:
    """The finished rounds of the quiz in ``database`` (a path or URL; default
    ``database_url()``). Each save is one transaction; many players, threads and processes
    (or replicas, with PostgreSQL) may save at once. Every database failure raises
    QuizStoreError."""

    def __init__(self, database: str | os.PathLike | None = None):
        self.url = database_url(database)
        self.where = (self.url.database if self.url.drivername == "sqlite"
                      else self.url.render_as_string(hide_password=True))

    def save(self, *, player: str, code: str, answers: list[int], labels: np.ndarray,
             model_accuracy: dict[str, float]) -> int:
        """Store one finished round; returns its id."""
        result = score(answers, labels)
        row = {"finished": time.time(), "player": player.strip()[:40] or "anonymous",
               "code": code, "n": result.total, "correct": result.correct,
               "accuracy": result.accuracy, "answers": json.dumps([int(a) for a in answers]),
               "truth": json.dumps([int(t) for t in labels]),
               "models": json.dumps(model_accuracy)}
        with self._failures("save the round"), self._writer().begin() as connection:
            return int(connection.execute(
                insert(rounds_table).returning(rounds_table.c.id), row).scalar_one())

    def rounds(self, code: str | None = None) -> list[dict]:
        """Every stored round (of round ``code`` only, when given), newest first."""
        query = select(rounds_table).order_by(rounds_table.c.id.desc())
        if code is not None:
            query = query.where(rounds_table.c.code == code)
        with self._failures("read the rounds"):
            self._ensure_schema()
            with _engine(self.url).connect() as connection:
                rows = connection.execute(query).mappings().all()
        return [{**row, "answers": json.loads(row["answers"]), "truth": json.loads(row["truth"]),
                 "models": json.loads(row["models"])} for row in rows]

    def version(self) -> int:
        """The schema version of the database (creating or migrating it first)."""
        with self._failures("read the schema version"):
            self._ensure_schema()
            with _engine(self.url).connect() as connection:
                return int(connection.execute(select(version_table.c.version)).scalar_one())

    # ------------------------------------------------------------ set-up and errors

    def _writer(self) -> Engine:
        """The engine for writes, its tables made sure of."""
        self._ensure_schema()
        return _engine(self.url).execution_options(write=True)

    def _ensure_schema(self) -> None:
        """Create, adopt or migrate the tables, once per process and database."""
        key = self.url.render_as_string(hide_password=False)
        if key in _ready:
            return
        with _engine(self.url).execution_options(write=True).begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SETUP_LOCK})
            _set_up(connection)
        _ready.add(key)

    @contextmanager
    def _failures(self, doing: str) -> Iterator[None]:
        """Turns a database error into QuizStoreError saying what to check."""
        try:
            yield
        except (SQLAlchemyError, OSError) as error:
            cause = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            if self.url.password:
                cause = cause.replace(str(self.url.password), "***")
            advice = ("check that its folder exists and is writable, or set CIFAKE_QUIZ_DB to "
                      "another file" if self.url.drivername == "sqlite" else
                      "check that the server is running and reachable, and the user, password "
                      "and database name in CIFAKE_QUIZ_DB")
            raise QuizStoreError(f"could not {doing} in the quiz database {self.where} "
                                 f"({cause}); {advice}") from None


def _set_up(connection: Connection) -> None:
    """Bring the database to ``SCHEMA_VERSION``: create the tables in an empty one, adopt the
    ``rounds`` table of a file made before versions were recorded as version 1, then run the
    migrations after its version."""
    tables = set(inspect(connection).get_table_names())
    if "schema_version" in tables:
        version = connection.scalar(select(version_table.c.version))
    elif "rounds" in tables:
        found = {c["name"] for c in inspect(connection).get_columns("rounds")}
        if found != set(rounds_table.c.keys()):
            raise QuizStoreError(f"the quiz database has a table 'rounds' with columns "
                                 f"{sorted(found)}, not those of a quiz database")
        version = None
    else:
        metadata.create_all(connection)
        connection.execute(insert(version_table), {"version": SCHEMA_VERSION})
        return
    if version is None:  # made before versions were recorded
        version_table.create(connection, checkfirst=True)
        connection.execute(insert(version_table), {"version": 1})
        version = 1
    if version > SCHEMA_VERSION:
        raise QuizStoreError(f"the quiz database has schema version {version}, made by a newer "
                             f"version of the app (this one knows up to {SCHEMA_VERSION}); "
                             "upgrade the app")
    for step in range(version + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[step](connection)
        connection.execute(version_table.update().values(version=step))
