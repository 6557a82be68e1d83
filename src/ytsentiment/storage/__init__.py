"""The project's database: prediction log, feedback, monitoring runs (SQLAlchemy 2 + Alembic, SQLite or PostgreSQL).

``DATABASE_URL`` picks the database (default: the embedded SQLite file ``var/ytsentiment.db``); ``upgrade()`` or
``ytsentiment db-upgrade`` creates or migrates the schema. Names are imported lazily (SQLAlchemy loads on first use),
so ``import ytsentiment.storage`` is cheap and does nothing:

    engine = make_engine()                                   # storage.db
    upgrade()                                                # storage.migrate
    Spool(dir, ...).append(encode({...}), rows)              # storage.spool: the prediction log (API workers)
    SpoolWriter(dir, engine).run(stop)                       # storage.spool: its writer (`ytsentiment log-writer`)
    record_feedback(engine, label=-1, client_id="...", prediction_id="...")   # storage.feedback
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "StorageSettings": "settings", "DEFAULT_DATABASE_URL": "settings", "database_url": "settings",
    "StorageError": "errors", "UnknownPrediction": "errors", "InvalidFeedback": "errors",
    "make_engine": "db", "session_scope": "db", "safe_url": "db",
    "upgrade": "migrate", "downgrade": "migrate", "current_revision": "migrate", "head_revision": "migrate",
    "Base": "models", "Prediction": "models", "Feedback": "models", "MonitorRun": "models",
    "MonitorBaseline": "models",
    "describe": "rows", "sha256_text": "rows", "new_prediction_id": "rows", "new_prediction_ids": "rows",
    "prediction_row": "rows",
    "FeedbackResult": "feedback", "record_feedback": "feedback", "get_prediction": "feedback", "counts": "feedback",
    "predictions_window": "monitor", "feedback_window": "monitor", "record_monitor_run": "monitor",
    "monitor_runs": "monitor", "pin_baseline": "monitor", "get_baseline": "monitor",
    "purge": "retention", "parse_window": "retention",
    "export_feedback": "export",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
