"""Alembic migrations of the storage schema, shipped inside the package (run by ``ytsentiment db-upgrade``)."""
