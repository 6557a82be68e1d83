"""Migrations on both back ends: the schema revision 0001 creates, idempotence, concurrency, models == migration."""

from __future__ import annotations

import multiprocessing

import psycopg
import pytest
from sqlalchemy import inspect, text

from ytsentiment import YtSentimentError
from ytsentiment.storage.db import make_engine
from ytsentiment.storage.migrate import current_revision, downgrade, head_revision, upgrade

TABLES = {
    "predictions": {"id", "created_at", "model_name", "model_version", "video_id", "text", "text_sha256",
                    "sentiment", "confidence", "proba_negative", "proba_neutral", "proba_positive", "n_chars",
                    "n_words", "emoji_share", "non_letter_share", "language", "latency_ms"},
    "feedback": {"id", "created_at", "updated_at", "subject", "prediction_id", "text", "text_sha256", "label",
                 "client_id", "model_name", "model_version", "address"},
    "monitor_runs": {"id", "run_at", "model_name", "model_version", "window_start", "window_end", "n_predictions",
                     "n_feedback", "drift_score", "drift_detected", "class_mix_distance", "live_macro_f1",
                     "live_accuracy", "decision", "reasons", "summary"},
    "monitor_baselines": {"model_name", "model_version", "window_start", "window_end", "n_predictions", "pinned_at"},
    "shadow_predictions": {"prediction_id", "model_version", "model_name", "created_at", "sentiment", "confidence",
                           "proba_negative", "proba_neutral", "proba_positive", "latency_ms"},
}
NULLABLE = {
    "predictions": {"video_id", "text", "language", "latency_ms"},
    "feedback": {"updated_at", "prediction_id", "text", "model_name", "model_version", "address"},
    "monitor_runs": {"drift_score", "drift_detected", "class_mix_distance", "live_macro_f1", "live_accuracy"},
    "monitor_baselines": set(),
    "shadow_predictions": set(),
}


def test_first_revision_is_0001():
    from alembic.script import ScriptDirectory

    from ytsentiment.storage.migrate import alembic_config

    first = ScriptDirectory.from_config(alembic_config()).get_revision("0001")
    assert first.down_revision is None


def test_upgrade_creates_the_schema(empty_url):
    assert current_revision(empty_url) is None
    assert upgrade(empty_url) == head_revision()
    engine = make_engine(empty_url)
    try:
        insp = inspect(engine)
        assert set(TABLES) <= set(insp.get_table_names())
        for table, columns in TABLES.items():
            cols = {c["name"]: c for c in insp.get_columns(table)}
            assert set(cols) == columns, table
            assert {name for name, c in cols.items() if c["nullable"]} == NULLABLE[table], table
        indexed = {(t, tuple(ix["column_names"])) for t in TABLES for ix in insp.get_indexes(t)}
        assert {("predictions", ("created_at",)), ("feedback", ("prediction_id",)),
                ("feedback", ("address", "created_at")), ("monitor_runs", ("run_at",))} <= indexed
        (fk,) = insp.get_foreign_keys("feedback")
        assert (fk["referred_table"], fk["constrained_columns"], fk["options"].get("ondelete")) == \
            ("predictions", ["prediction_id"], "SET NULL")
        assert insp.get_pk_constraint("monitor_baselines")["constrained_columns"] == ["model_name", "model_version"]
        assert insp.get_pk_constraint("shadow_predictions")["constrained_columns"] == ["prediction_id",
                                                                                       "model_version"]
    finally:
        engine.dispose()


def test_upgrade_twice_is_a_no_op_and_keeps_data(db_url, engine, make_row, insert_rows):
    insert_rows(engine, [make_row(1)])
    assert upgrade(db_url) == head_revision()
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM predictions")) == 1
        assert conn.scalar(text("SELECT count(*) FROM alembic_version")) == 1


def test_downgrade_and_upgrade_again(empty_url):
    db_url = empty_url
    upgrade(db_url)
    downgrade(db_url, "base")
    assert current_revision(db_url) is None
    engine = make_engine(db_url)
    try:
        assert not set(TABLES) & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert upgrade(db_url) == head_revision()


def test_models_match_the_migrations(db_url, engine):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from ytsentiment.storage.models import Base

    mine = set(Base.metadata.tables) | {None}  # later revisions' tables belong to other features' models

    def include_name(name, type_, parent_names):
        return type_ != "table" or name in mine

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def _upgrade_after(barrier, url, results):
    barrier.wait(30)
    try:
        results.put(upgrade(url))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        results.put(f"{type(exc).__name__}: {exc}")


def test_concurrent_upgrades_serialise(empty_url):
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_upgrade_after, args=(barrier, empty_url, results)) for _ in range(3)]
    for p in procs:
        p.start()
    try:
        outcomes = sorted(results.get(timeout=120) for _ in procs)
    finally:
        for p in procs:
            p.join(30)
    assert outcomes == [head_revision()] * 3
    assert current_revision(empty_url) == head_revision()


def test_unreachable_database_is_a_clear_error(backend, tmp_path):
    url = {"sqlite": f"sqlite:///{tmp_path}/not-a-dir/x.db", "postgresql": "postgresql+psycopg://u@127.0.0.1:1/x"}
    (tmp_path / "not-a-dir").write_text("a file, so no directory can be made here")
    with pytest.raises(YtSentimentError, match="cannot migrate|cannot read|Not a directory|File exists"):
        upgrade(url[backend])


def test_concurrent_upgrades_in_one_process_serialise(empty_url, tmp_path):
    """Threads of one process (two apps starting, a fixture beside a running app) share alembic's module-level
    context: without the process lock one of them fails with "No context has been configured yet"."""
    import threading

    urls = [empty_url, f"sqlite:///{tmp_path / 'other.db'}"]  # the same database and another one, at once
    errors: list[BaseException] = []

    def migrate(url: str) -> None:
        try:
            upgrade(url)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(url,)) for url in urls * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert {current_revision(url) for url in urls} == {head_revision()}


def _sqlite_error(message: str):
    import sqlite3

    from sqlalchemy.exc import OperationalError

    return OperationalError("PRAGMA journal_mode=WAL", {}, sqlite3.OperationalError(message))


def test_a_locked_sqlite_attempt_is_retried(tmp_path, monkeypatch, caplog):
    """SQLite answers "database is locked" without waiting when two connections would deadlock (seen in CI: one
    of three processes upgrading a new file). The attempt is rolled back and retried."""
    from ytsentiment.storage import migrate

    real, calls = migrate._run_once, []

    def flaky(url, action):
        calls.append(url)
        if len(calls) <= 2:
            raise _sqlite_error("database is locked")
        real(url, action)

    monkeypatch.setattr(migrate, "_run_once", flaky)
    url = f"sqlite:///{tmp_path / 'retried.db'}"
    with caplog.at_level("INFO", logger="ytsentiment.storage.migrate"):
        assert upgrade(url) == head_revision()
    assert len(calls) == 3
    assert sum("database is locked (attempt" in r.getMessage() for r in caplog.records) == 2


def test_other_errors_and_a_lock_that_never_ends_are_not_retried_forever(tmp_path, monkeypatch):
    from ytsentiment.storage import migrate

    calls = []

    def failing(message):
        def run(url, action):
            calls.append(message)
            raise _sqlite_error(message)
        return run

    url = f"sqlite:///{tmp_path / 'x.db'}"
    monkeypatch.setattr(migrate, "_run_once", failing("disk I/O error"))
    with pytest.raises(YtSentimentError, match="disk I/O error"):
        upgrade(url)
    assert calls == ["disk I/O error"]  # not a lock: reported at once
    calls.clear()
    monkeypatch.setattr(migrate, "LOCK_TIMEOUT", 0.4)
    monkeypatch.setattr(migrate, "_run_once", failing("database is locked"))
    with pytest.raises(YtSentimentError, match="database is locked"):
        upgrade(url)
    assert 2 <= len(calls) <= 6  # retried with growing pauses, then given up at LOCK_TIMEOUT


def test_a_database_not_in_utf8_is_refused_with_what_to_do(pg_server):
    pg_server.execute("CREATE DATABASE ascii_db ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    url = pg_server.url("ascii_db")
    with pytest.raises(YtSentimentError, match=r"uses encoding SQL_ASCII; ytsentiment needs UTF8: create it with "
                                               r"`createdb -E UTF8 -T template0 ascii_db`"):
        upgrade(url)
    with pytest.raises(YtSentimentError, match="uses encoding SQL_ASCII"):  # any use, not only migrations
        current_revision(url)
    with psycopg.connect(pg_server.url("ascii_db").replace("+psycopg", "")) as conn:  # refused before any DDL
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
