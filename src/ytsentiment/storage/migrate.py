"""Schema migrations, programmatically: ``upgrade(url)`` = ``alembic upgrade head`` with no alembic.ini.

The Alembic configuration is built in code and the revisions ship inside the package
(``ytsentiment/storage/migrations``), so an installed wheel or the Docker image can migrate with
``ytsentiment db-upgrade`` alone. Upgrading an up-to-date database is a no-op.

Concurrency: every upgrade runs in ONE transaction that first takes a lock, so two processes that upgrade at once
(two gunicorn masters, a deploy hook and a job) run one after the other and the second finds nothing to do.
PostgreSQL: ``pg_advisory_xact_lock`` (released at commit; DDL is transactional there). SQLite: ``BEGIN IMMEDIATE``
(the database's write lock) with a long busy timeout. A new SQLite file gets its directory created and is switched to
WAL journaling, so the API's background writer and a reading job do not block each other. SQLite answers "database
is locked" at once, without waiting, when two connections would deadlock (one switching a new file to WAL while
another holds the write lock): that whole attempt is rolled back and retried, with a growing pause, until
LOCK_TIMEOUT (seen once in CI with three processes upgrading one new file).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from pathlib import Path

from ytsentiment.storage.db import make_engine, parse_url, safe_url
from ytsentiment.storage.errors import StorageError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key: any constant shared by every process that migrates this schema ("ytsentim" in ASCII).
LOCK_KEY = 0x7974_7365_6E74_696D
LOCK_TIMEOUT = 120.0  # seconds a second upgrader waits for the first


def alembic_config():
    """Alembic's Config built in code: the packaged migrations, no alembic.ini."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The newest revision the code knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no Alembic revision under {MIGRATIONS}")
    return head


def _migration_engine(url: str | None):
    from sqlalchemy import event
    from sqlalchemy.pool import NullPool

    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not parsed.database.startswith("file:"):
        try:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot migrate {safe_url(parsed)}: cannot create its directory ({exc})") from None
    engine = make_engine(url, timeout=LOCK_TIMEOUT, poolclass=NullPool)
    if parsed.get_backend_name() == "sqlite":
        # pysqlite would not BEGIN before DDL; take over transaction control so the whole upgrade is one
        # transaction that holds the write lock from its first statement (SQLAlchemy's documented recipe).
        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None
            if parsed.database not in (None, "", ":memory:"):
                dbapi_connection.execute("PRAGMA journal_mode=WAL")

        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    return engine


# Alembic keeps the running migration's context in a module-level proxy (``alembic.context``): two migrations in
# one process at once (two apps' start-up threads, a test fixture beside a running app) clobber each other's
# context ("No context has been configured yet"). The database lock serialises processes; this serialises threads.
_PROCESS_LOCK = threading.Lock()


def _run_once(url: str | None, action) -> None:
    from sqlalchemy import text

    engine = _migration_engine(url)
    try:
        with _PROCESS_LOCK, engine.connect() as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            action(cfg)
    finally:
        engine.dispose()


def _sqlite_busy(exc: Exception) -> bool:
    import sqlite3

    orig = getattr(exc, "orig", None)
    return isinstance(orig, sqlite3.OperationalError) and "locked" in str(orig)


def _run(url: str | None, action) -> None:
    from alembic.util import CommandError
    from sqlalchemy.exc import OperationalError

    deadline, pause, attempts = time.monotonic() + LOCK_TIMEOUT, 0.05, 1
    while True:
        try:
            _run_once(url, action)
        except OperationalError as exc:
            if _sqlite_busy(exc) and time.monotonic() + pause < deadline:
                log.info("migrating %s: database is locked (attempt %d); retrying in %.2f s", safe_url(url),
                         attempts, pause)
                time.sleep(pause * (1 + random.random()))  # jitter: racing processes do not retry in step
                pause, attempts = min(pause * 2, 2.0), attempts + 1
                continue
            detail = " ".join(str(exc.orig or exc).split())
            raise StorageError(f"cannot migrate {safe_url(url)}: {detail} (is the database running, and "
                               "DATABASE_URL right?)") from None
        except CommandError as exc:
            raise StorageError(f"cannot migrate {safe_url(url)}: {exc} (a database newer than this code? deploy "
                               "the code that made it)") from None
        return


def upgrade(url: str | None = None, revision: str = "head") -> str | None:
    """Bring the schema at ``url`` (default DATABASE_URL) up to ``revision``; returns the revision it is at."""
    from alembic import command

    log.info("migrating %s to %s", safe_url(url), revision)
    _run(url, lambda cfg: command.upgrade(cfg, revision))
    return current_revision(url)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    """Step the schema back to ``revision`` (``base``: no tables). For tests and emergencies; it drops data."""
    from alembic import command

    _run(url, lambda cfg: command.downgrade(cfg, revision))


def current_revision(url: str | None = None) -> str | None:
    """The revision the database is at (None: never migrated)."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.exc import OperationalError

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        detail = " ".join(str(exc.orig or exc).split())
        raise StorageError(f"cannot read the schema version of {safe_url(url)}: {detail} (is the database "
                           "running, and DATABASE_URL right?)") from None
    finally:
        engine.dispose()
