"""CLI verbs of the storage layer (wired in ``ytsentiment.cli.PLUGINS``): db-upgrade, purge, feedback export.

Each module exposes ``add_arguments(parser)`` and ``run(args) -> int``; the CLI imports it only when its verb runs.
The database is DATABASE_URL (default: the embedded SQLite file var/ytsentiment.db).
"""

from __future__ import annotations

from ytsentiment.storage.db import make_engine, safe_url
from ytsentiment.storage.errors import StorageError
from ytsentiment.storage.migrate import current_revision


def quiet_alembic() -> None:
    """Alembic logs one INFO line per plugin it loads; a CLI verb shows its own summary instead."""
    import logging

    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def migrated_engine():
    """An engine on DATABASE_URL, refusing a database that has no schema yet (with the command that fixes it)."""
    quiet_alembic()
    if current_revision() is None:
        raise StorageError(f"the database {safe_url()} has no schema yet: run `ytsentiment db-upgrade` first")
    return make_engine()
