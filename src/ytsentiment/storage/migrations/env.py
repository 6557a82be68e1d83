"""Alembic environment: runs on the connection that ``ytsentiment.storage.migrate`` hands over (no alembic.ini).

``migrate.upgrade()`` opens the connection, takes the lock that serialises concurrent upgrades and puts the
connection in ``config.attributes["connection"]``; offline mode (``--sql``) renders SQL for the configured URL.
"""

from __future__ import annotations

from alembic import context

from ytsentiment.storage.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # offline: SQL script for the URL's dialect
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                          literal_binds=True, render_as_batch=True)
    else:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          transaction_per_migration=False)
    with context.begin_transaction():
        context.run_migrations()


run()
