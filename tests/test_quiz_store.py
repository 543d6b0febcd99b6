"""The quiz store (``core.labs.quiz_store``) on both backends: a SQLite file and a real
PostgreSQL server (``$CIFAKE_TEST_POSTGRES_URL``, started by ``.ci/postgres``): saving and
reading, 30 threads and two processes at once, the schema version and its migrations, adopting a
file made before versions were recorded, the same schema and results on both, and a database
that is down or refuses the credentials."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import uuid

import numpy as np
import pytest
from helpers import free_port
from sqlalchemy import create_engine, inspect, text

from core.labs import quiz_store
from core.labs.quiz_store import QuizStore, QuizStoreError, database_url

# the table the app created before the store recorded a schema version
LEGACY_TABLE = """CREATE TABLE IF NOT EXISTS rounds (
    id INTEGER PRIMARY KEY AUTOINCREMENT, finished REAL NOT NULL, player TEXT NOT NULL,
    code TEXT NOT NULL, n INTEGER NOT NULL, correct INTEGER NOT NULL, accuracy REAL NOT NULL,
    answers TEXT NOT NULL, truth TEXT NOT NULL, models TEXT NOT NULL)"""


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of a PostgreSQL database the tests may fill (``.ci/run`` starts one)."""
    url = os.environ.get("CIFAKE_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("CIFAKE_TEST_POSTGRES_URL must name a PostgreSQL database in CI "
                        "(.ci/postgres start prints one)")
        pytest.skip("no PostgreSQL server: run `.ci/postgres start` and set "
                    "CIFAKE_TEST_POSTGRES_URL to the URL it prints")
    return url


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """The test server's URL with a fresh, empty schema of its own on the search path."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(database_url(postgres_server))
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    yield f"{postgres_server}?options=-csearch_path%3D{schema}"
    engine = create_engine(database_url(postgres_server))
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> str:
    """A new, empty quiz database on each backend: a path or a URL."""
    if request.param == "sqlite":
        return str(tmp_path / "q" / "quiz.sqlite")
    return request.getfixturevalue("postgres_url")


def save(store: QuizStore, player: str, answers=(1, 0, 1, 1), labels=(1, 0, 0, 1),
         models=None, code="ABCD") -> int:
    return store.save(player=player, code=code, answers=list(answers),
                      labels=np.array(labels), model_accuracy=models or {"m": 0.5})


def test_the_database_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("CIFAKE_QUIZ_DB", raising=False)
    default = database_url()
    assert default.drivername == "sqlite" and default.database.endswith("data/quiz.sqlite")
    monkeypatch.setenv("CIFAKE_QUIZ_DB", str(tmp_path / "class.sqlite"))
    assert database_url().database == str(tmp_path / "class.sqlite")
    for given in ("postgresql://quiz:pw@db.school:5433/quiz",
                  "postgresql+psycopg://quiz:pw@db.school:5433/quiz"):
        monkeypatch.setenv("CIFAKE_QUIZ_DB", given)
        url = database_url()
        assert (url.drivername, url.host, url.port, url.username, url.database) == (
            "postgresql+psycopg", "db.school", 5433, "quiz", "quiz")
        assert QuizStore().where == "postgresql+psycopg://quiz:***@db.school:5433/quiz"
    with pytest.raises(QuizStoreError, match="must be PostgreSQL .* not mysql://"):
        database_url("mysql://quiz:pw@db/quiz")


def test_store_saves_and_reads_rounds(database):
    store = QuizStore(database)
    assert store.rounds() == []
    first = save(store, "Ada", models={"ours": 1.0})
    second = save(store, "  ", answers=(0, 0, 0, 0))
    rounds = QuizStore(database).rounds()  # a fresh handle: stored, not remembered
    assert [r["id"] for r in rounds] == [second, first]
    assert rounds[1]["player"] == "Ada" and rounds[1]["accuracy"] == 0.75
    assert rounds[1]["correct"] == 3 and rounds[1]["n"] == 4
    assert rounds[1]["answers"] == [1, 0, 1, 1] and rounds[1]["truth"] == [1, 0, 0, 1]
    assert rounds[1]["models"] == {"ours": 1.0}
    assert rounds[0]["player"] == "anonymous" and rounds[0]["accuracy"] == 0.5
    assert store.version() == quiz_store.SCHEMA_VERSION == 1
    other = save(store, "Grace", code="WXYZ")
    assert [r["id"] for r in store.rounds("WXYZ")] == [other]  # one class's round code
    assert [r["id"] for r in store.rounds("ABCD")] == [second, first]


def test_thirty_rounds_at_once_land_exactly_once_each(database):
    """30 threads save at the same moment into a database not yet created: every round is
    stored once, with its own id."""
    store = QuizStore(database)
    start = threading.Barrier(30)
    ids: dict[int, int] = {}
    errors = []

    def player(k: int) -> None:
        start.wait()
        try:
            ids[k] = save(store, f"p{k}", answers=(k % 2, 1, 0, 1))
        except Exception as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=player, args=(k,)) for k in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    rounds = store.rounds()
    assert sorted(r["player"] for r in rounds) == sorted(f"p{k}" for k in range(30))
    assert sorted(r["id"] for r in rounds) == sorted(ids.values())
    assert len(set(ids.values())) == 30
    assert {r["player"]: r["answers"][0] for r in rounds} == {f"p{k}": k % 2 for k in range(30)}


def _write_rounds(database: str, player: str, n: int) -> None:
    store = QuizStore(database)
    for i in range(n):
        store.save(player=player, code="RACE", answers=[i % 2, 1], labels=np.array([1, 1]),
                   model_accuracy={"m": 0.5})


@pytest.mark.slow
def test_two_processes_at_once(database):
    _write_rounds(database, "setup", 1)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_rounds, args=(database, f"p{k}", 25))
               for k in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
        assert w.exitcode == 0
    rounds = QuizStore(database).rounds()
    assert len(rounds) == 51
    assert sum(r["player"] == "p0" for r in rounds) == \
        sum(r["player"] == "p1" for r in rounds) == 25
    if not database.startswith("postgresql"):
        with sqlite3.connect(database) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_file_made_before_schema_versions_is_adopted(tmp_path):
    path = tmp_path / "quiz.sqlite"
    with sqlite3.connect(path) as connection:  # as the app wrote it before
        connection.execute(LEGACY_TABLE)
        connection.execute(
            "INSERT INTO rounds (finished, player, code, n, correct, accuracy, answers, truth, "
            "models) VALUES (1700000000.5, 'Old', 'CODE1', 2, 1, 0.5, '[1, 1]', '[1, 0]', "
            "'{\"logreg\": 0.5}')")
    connection.close()
    store = QuizStore(path)
    [old] = store.rounds()
    assert old == {"id": 1, "finished": 1700000000.5, "player": "Old", "code": "CODE1", "n": 2,
                   "correct": 1, "accuracy": 0.5, "answers": [1, 1], "truth": [1, 0],
                   "models": {"logreg": 0.5}}
    assert store.version() == 1
    assert save(store, "New") == 2
    assert [r["player"] for r in QuizStore(path).rounds()] == ["New", "Old"]
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
    connection.close()


def test_a_rounds_table_of_something_else_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE rounds (id INTEGER PRIMARY KEY, boxer TEXT)")
    connection.close()
    with pytest.raises(QuizStoreError, match=r"columns \['boxer', 'id'\], not those of a quiz"):
        QuizStore(path).rounds()


def test_migrations_run_once_from_the_stored_version(database, monkeypatch):
    save(QuizStore(database), "Ada")
    ran = []

    def add_school(connection):
        ran.append(1)
        connection.execute(text("ALTER TABLE rounds ADD COLUMN school TEXT"))

    monkeypatch.setattr(quiz_store, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(quiz_store, "MIGRATIONS", {2: add_school})
    monkeypatch.setattr(quiz_store, "_ready", set())  # as a new process of the new version
    assert QuizStore(database).version() == 2
    monkeypatch.setattr(quiz_store, "_ready", set())
    assert QuizStore(database).version() == 2
    assert ran == [1]
    monkeypatch.setattr(quiz_store, "SCHEMA_VERSION", 1)  # an older app on the newer database
    monkeypatch.setattr(quiz_store, "_ready", set())
    with pytest.raises(QuizStoreError, match="schema version 2, made by a newer version"):
        QuizStore(database).rounds()


def _schema(url) -> dict:
    """Each table's columns: name, Python type, nullable, part of the primary key."""
    engine = create_engine(url)
    inspector = inspect(engine)
    tables = {table: [(c["name"], c["type"].python_type, c["nullable"],
                       c["name"] in inspector.get_pk_constraint(table)["constrained_columns"])
                      for c in inspector.get_columns(table)]
              for table in inspector.get_table_names()}
    engine.dispose()
    return tables


def test_both_backends_have_the_same_schema_and_results(tmp_path, postgres_url):
    stores = [QuizStore(tmp_path / "quiz.sqlite"), QuizStore(postgres_url)]
    for store in stores:
        save(store, "Ada", models={"flagship": 14 / 15, "logreg": 0.6})
        save(store, "Émile 🦊", answers=(0, 0, 0, 0))
        save(store, "x" * 60, answers=(1, 1, 1, 0))
    sqlite_rounds, postgres_rounds = ([{k: v for k, v in r.items() if k != "finished"}
                                       for r in store.rounds()] for store in stores)
    assert sqlite_rounds == postgres_rounds
    assert [r["player"] for r in sqlite_rounds] == ["x" * 40, "Émile 🦊", "Ada"]
    schemas = [_schema(store.url) for store in stores]
    assert schemas[0] == schemas[1]
    assert set(schemas[0]) == {"rounds", "schema_version"}
    assert schemas[0]["rounds"][:2] == [("id", int, False, True), ("finished", float, False, False)]


# ---------------------------------------------------------------- failures


def test_a_server_that_is_down_gives_a_clear_error_without_the_password():
    store = QuizStore(f"postgresql://quiz:hunter2-secret@127.0.0.1:{free_port()}/quiz")
    for call in (lambda: save(store, "Ada"), store.rounds):
        with pytest.raises(QuizStoreError) as caught:
            call()
        message = str(caught.value)
        assert "hunter2-secret" not in message and "quiz:***@127.0.0.1" in message
        assert "check that the server is running and reachable" in message
        assert "Connection refused" in message
        assert caught.value.__cause__ is None


def test_refused_credentials_give_a_clear_error_without_the_password(postgres_server):
    url = database_url(postgres_server).set(password="not-the-password-42")
    store = QuizStore(url.render_as_string(hide_password=False))
    with pytest.raises(QuizStoreError) as caught:
        save(store, "Ada")
    message = str(caught.value)
    assert "not-the-password-42" not in message
    assert "password authentication failed" in message
    assert "the user, password and database name in CIFAKE_QUIZ_DB" in message


def test_a_sqlite_file_that_cannot_be_made_gives_a_clear_error(tmp_path):
    (tmp_path / "blocker").write_text("a file where the folder would be")
    store = QuizStore(tmp_path / "blocker" / "quiz.sqlite")
    with pytest.raises(QuizStoreError, match="check that its folder exists and is writable"):
        save(store, "Ada")

