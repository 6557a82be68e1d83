"""A real, throw-away PostgreSQL server for tests: Debian's binaries, a temp directory, loopback only.

``PostgresServer`` runs ``initdb`` and ``pg_ctl`` from ``/usr/lib/postgresql/<N>/bin`` (or ``PG_BIN``) in a fresh
temp directory. PostgreSQL refuses to run as root, so when the tests run as root the server runs as ``nobody``
(the temp directory is handed to it); otherwise it runs as the current user. It listens on 127.0.0.1 on a free
port (a new one is tried if another process takes it first) and on a unix socket inside the temp directory;
durability is off (fsync, synchronous_commit) because nothing here must survive. ``create_database()`` makes a
fresh database (optionally from a template: CREATE DATABASE ... TEMPLATE copies files, so it is fast) and returns
its SQLAlchemy URL.

    with PostgresServer() as pg:
        url = pg.create_database()          # postgresql+psycopg://postgres@127.0.0.1:PORT/db_1
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from itertools import count
from pathlib import Path

DRIVER = "postgresql+psycopg"


def pg_bin() -> Path:
    """The directory of initdb/pg_ctl: $PG_BIN, else the newest /usr/lib/postgresql/<N>/bin."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: install Debian's "
                           "`postgresql` package (.ci/run does) or set PG_BIN")
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster in a temp directory; ``start()``/``stop()`` or use it as a context manager."""

    def __init__(self, attempts: int = 5, timeout: int = 60):
        self.attempts = attempts
        self.timeout = timeout
        self.bin = pg_bin()
        self.root: Path | None = None
        self.port: int | None = None
        self._names = count(1)
        self._user = pwd.getpwnam("nobody") if os.geteuid() == 0 else None

    # -- process plumbing ------------------------------------------------------------------------------------------
    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        kwargs = {}
        if self._user is not None:  # root: drop to nobody, as the server refuses to run as root
            kwargs = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(self.root)}
        return subprocess.run(args, cwd=self.root, env=env, capture_output=True, text=True, check=check,
                              timeout=self.timeout, **kwargs)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def start(self) -> PostgresServer:
        self.root = Path(tempfile.mkdtemp(prefix="ytsentiment-pg-"))  # not under pytest's root-only tmp tree
        if self._user is not None:
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        for _ in range(self.attempts):
            self.port = free_port()
            done = self._pg_ctl_start()
            if done.returncode == 0:
                return self
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else done.stderr
            if "could not bind" not in tail and "already in use" not in tail:
                self.stop()
                raise RuntimeError(f"PostgreSQL did not start:\n{done.stdout}\n{done.stderr}\n{tail}")
        self.stop()
        raise RuntimeError(f"PostgreSQL did not find a free port in {self.attempts} attempts")

    def _pg_ctl_start(self) -> subprocess.CompletedProcess:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
        return self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
                         "-w", "-t", str(self.timeout), "start", check=False)

    def halt(self) -> None:
        """Stop the server, keeping its data (``resume()`` starts it again on the same port): a real outage."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        done = self._pg_ctl_start()
        if done.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start again:\n{done.stderr}\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.root is None:
            return
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- databases -------------------------------------------------------------------------------------------------
    def url(self, database: str = "postgres") -> str:
        return f"{DRIVER}://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> list[tuple]:
        """Run one statement outside a transaction (CREATE DATABASE needs that) and return its rows, if any."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=database,
                             autocommit=True, connect_timeout=10) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []

    def create_database(self, template: str | None = None, name: str | None = None) -> str:
        """A new, empty database (or a copy of ``template``, which must have no open connections); its URL."""
        name = name or f"db_{next(self._names)}"
        # FILE_COPY: with fsync off, copying the template's files beats PostgreSQL 15's default WAL_LOG strategy
        self.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""))
        return self.url(name)
