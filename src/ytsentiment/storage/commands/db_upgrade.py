"""`ytsentiment db-upgrade`: create or migrate the schema at DATABASE_URL to the newest revision (idempotent)."""

from __future__ import annotations

from ytsentiment.storage.commands import quiet_alembic
from ytsentiment.storage.db import safe_url
from ytsentiment.storage.migrate import upgrade


def add_arguments(parser) -> None:
    parser.add_argument("--revision", default="head", help="target revision (default: head)")


def run(args) -> int:
    quiet_alembic()
    revision = upgrade(revision=args.revision)
    print(f"database {safe_url()} is at revision {revision}")
    return 0
