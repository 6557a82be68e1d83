"""Database fixtures shared by every tier that touches the project's database (storage, api, monitoring_job, batch).

A conftest imports the fixtures it uses (``from support.database import backend, db_url, ...  # noqa: F401``).
Tests parametrised by ``backend`` run twice, on SQLite and on a real PostgreSQL server (tests/support/postgres.py,
started once per session, only when a PostgreSQL test runs); each gets an empty database at the newest schema
(``db_url``) or a fresh one with no schema (``empty_url``). ``outage(url)`` makes a database refuse writes for real:
SQLite by another connection holding the write lock, PostgreSQL by refusing connections to the database and ending
the open ones. ``sqlite_url`` is a migrated SQLite file for tiers that need one database, not both.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import contextmanager

import pytest

from support.postgres import PostgresServer

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_server():
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    from ytsentiment.storage.migrate import upgrade

    path = tmp_path_factory.mktemp("template") / "migrated.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_migrated(pg_server):
    """The session's migrated PostgreSQL database; tests get it emptied (see ``db_url``)."""
    from ytsentiment.storage.migrate import upgrade

    url = pg_server.create_database(name="migrated")
    upgrade(url)
    return url


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


def _emptied(pg: PostgresServer, url: str) -> None:
    """Every table but alembic_version truncated, and no session of an earlier test left on the database."""
    name = url.rsplit("/", 1)[1]
    pg.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' "
               "AND pid <> pg_backend_pid()")
    tables = [r[0] for r in pg.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                       "AND tablename <> 'alembic_version'", database=name)]
    pg.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE", database=name)


@pytest.fixture
def db_url(request, backend, tmp_path) -> str:
    """A database at the newest schema with no rows. SQLite: a fresh copy of a migrated file. PostgreSQL: the
    session's migrated database, emptied before the test (CREATE DATABASE costs about a second on a loaded 2-core
    machine, TRUNCATE a few milliseconds); tests that change the schema use ``empty_url`` instead."""
    if backend == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    pg, url = request.getfixturevalue("pg_server"), request.getfixturevalue("pg_migrated")
    _emptied(pg, url)
    return url


@pytest.fixture
def empty_url(request, backend, tmp_path) -> str:
    """A fresh database with no schema (its own PostgreSQL database, dropped afterwards)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/test.db"
    pg = request.getfixturevalue("pg_server")
    url = pg.create_database()
    name = url.rsplit("/", 1)[1]
    request.addfinalizer(lambda: pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return url


@pytest.fixture
def engine(db_url):
    from ytsentiment.storage.db import make_engine

    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def outage(request, backend):
    """``with outage(url):`` the database refuses writes for real (see the module docstring)."""

    @contextmanager
    def down(url: str):
        if backend == "sqlite":
            holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
            holder.execute("BEGIN EXCLUSIVE")
            try:
                yield
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            return
        pg = request.getfixturevalue("pg_server")
        name = url.rsplit("/", 1)[1]
        pg.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        pg.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        try:
            yield
        finally:
            pg.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')

    return down


@pytest.fixture
def sqlite_url(tmp_path, request) -> str:
    """A migrated SQLite database of this test's own."""
    path = tmp_path / "test.db"
    shutil.copy(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"
