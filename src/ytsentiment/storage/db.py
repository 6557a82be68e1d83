"""Engines and sessions: one ``make_engine(url)`` for every user of the database (API, monitor, batch, CLI).

- SQLite (the embedded default): foreign keys switched on per connection (SQLite leaves them off, and the feedback
  table's ON DELETE SET NULL needs them), a busy timeout instead of failing at once on a lock. ``upgrade()``
  switches the file to WAL so the API's writer and a reading job do not block each other. A connection that failed
  as read-only, with an I/O error or unable to open the file is treated as a disconnect: it and the pool are
  discarded, so once the file is writable again the next attempt opens a good connection (a connection opened while
  the file was read-only would otherwise stay read-only for the life of the process).
- PostgreSQL: a connect timeout (a server that is down must not hang a caller for minutes) and pre-ping (pooled
  connections that died with a restart are replaced, not handed out). A database not in UTF8 is refused on connect
  with the command that makes a good one.

Passwords never reach the logs: ``safe_url(url)`` is what messages print.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ytsentiment.storage.errors import StorageError
from ytsentiment.storage.settings import database_url

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Engine
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


def parse_url(url: str | None = None) -> URL:
    """DATABASE_URL (or ``url``) as a SQLAlchemy URL; a clear error when it is not one."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    raw = url or database_url()
    try:
        return make_url(raw)
    except ArgumentError as exc:
        example = "postgresql+psycopg://USER:PASSWORD@HOST:5432/DB"  # pragma: allowlist secret
        raise StorageError(f"DATABASE_URL is not a SQLAlchemy URL ({exc}): expected e.g. "
                           f"sqlite:///var/ytsentiment.db or {example}") from None


def safe_url(url: str | URL | None = None) -> str:
    """The URL with its password masked, for messages and logs."""
    parsed = parse_url(url) if url is None or isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)


def make_engine(url: str | None = None, *, timeout: float = 5.0, **kwargs) -> Engine:
    """An Engine for ``url`` (default DATABASE_URL). ``timeout``: seconds SQLite waits on a lock, and PostgreSQL
    on connecting. Extra keyword arguments go to ``sqlalchemy.create_engine``."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import NoSuchModuleError

    parsed = parse_url(url)
    connect_args = dict(kwargs.pop("connect_args", {}))
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        connect_args.setdefault("timeout", timeout)
    elif backend == "postgresql":
        connect_args.setdefault("connect_timeout", max(1, round(timeout)))
        kwargs.setdefault("pool_pre_ping", True)
    try:
        engine = create_engine(parsed, connect_args=connect_args, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:
        raise StorageError(f"DATABASE_URL {safe_url(parsed)}: no driver for it ({exc}); use sqlite:/// or "
                           "postgresql+psycopg:// (psycopg 3 is installed)") from None
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "handle_error", _sqlite_on_error)
    elif backend == "postgresql":
        event.listen(engine.pool, "connect", _postgres_on_connect, insert=True)  # before the dialect reads the server
    return engine


def _postgres_on_connect(dbapi_connection, _record) -> None:
    """Refuse a database whose encoding is not UTF8 (SQL_ASCII is initdb's default under the C locale): its text
    would come back as bytes, and a comment in any script but ASCII could not be stored as written."""
    encoding = dbapi_connection.info.parameter_status("server_encoding")
    if encoding != "UTF8":
        params = dbapi_connection.info.get_parameters()
        dbapi_connection.close()
        where = f"{params.get('host', '')}:{params.get('port', '')}/{params.get('dbname', '')}"
        raise StorageError(f"database {where} uses encoding {encoding}; ytsentiment needs UTF8: create it with "
                           f"`createdb -E UTF8 -T template0 {params.get('dbname', 'DB')}` (or `initdb -E UTF8` for a "
                           "new cluster)")


# SQLite primary result codes after which a connection is not to be trusted again: READONLY, IOERR, CANTOPEN.
_SQLITE_DISCARD = {8, 10, 14}


def _sqlite_on_error(context) -> None:
    code = getattr(context.original_exception, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _SQLITE_DISCARD:
        context.is_disconnect = True


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # In WAL mode (set when the file is created), NORMAL syncs at checkpoints instead of on every commit: the log's
    # batches stop waiting on the disk, and a crash can lose only the last batches, never corrupt the file.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    from sqlalchemy.orm import Session

    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session
