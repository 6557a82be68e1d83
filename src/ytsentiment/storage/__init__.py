"""The project's database: prediction log, feedback, monitoring runs (SQLAlchemy 2 + Alembic, SQLite or PostgreSQL).

``DATABASE_URL`` picks the database (default: the embedded SQLite file ``var/ytsentiment.db``); ``upgrade()`` or
``ytsentiment db-upgrade`` creates or migrates the schema. Import each name from the module that defines it:

    settings      StorageSettings, database_url            db         make_engine, session_scope, safe_url
    migrate       upgrade, downgrade, current_revision     models     Prediction, Feedback, MonitorRun ...
    rows          prediction_row, describe, sha256_text    feedback   record_feedback, get_prediction
    writer        PredictionLog (batched, never blocks)    log_process  LogProcess, Served (the same, in a child)
    monitor       the monitoring job's reads and writes    export     export_feedback (training CSV)
    retention     purge, parse_window                      errors     StorageError, UnknownPrediction ...
"""

from __future__ import annotations

# What ytsentiment.api.storage imports from the package itself; nothing else is re-exported here.
from ytsentiment.storage.db import make_engine, safe_url
from ytsentiment.storage.feedback import record_feedback
from ytsentiment.storage.migrate import upgrade
from ytsentiment.storage.monitor import monitor_runs
from ytsentiment.storage.settings import StorageSettings

__all__ = ["StorageSettings", "make_engine", "monitor_runs", "record_feedback", "safe_url", "upgrade"]
