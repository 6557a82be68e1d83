"""The project's database: prediction log, feedback, monitoring runs (SQLAlchemy 2 + Alembic, SQLite or PostgreSQL).

``DATABASE_URL`` picks the database (default: the embedded SQLite file ``var/ytsentiment.db``); ``upgrade()`` or
``ytsentiment db-upgrade`` creates or migrates the schema. Import each name from the module that defines it:

    settings      StorageSettings, database_url            db         make_engine, session_scope, safe_url
    migrate       upgrade, downgrade, current_revision     models     Prediction, Feedback, MonitorRun ...
    rows          prediction_row, describe, sha256_text    feedback   record_feedback, get_prediction
    spool         Spool (API workers), SpoolWriter (one per host: `ytsentiment log-writer`): the prediction log
    monitor       the monitoring job's reads and writes    export     export_feedback (training CSV)
    retention     purge, parse_window                      errors     StorageError, UnknownPrediction ...
"""
