"""Storage settings from the environment (documented in ``.env.example``); read when asked, never at import.

    DATABASE_URL                    SQLAlchemy URL; default: the embedded SQLite file var/ytsentiment.db
                                    (relative to the working directory, like mlflow.db); production:
                                    postgresql+psycopg://USER:PASSWORD@HOST:5432/DB  # pragma: allowlist secret
    PREDICTION_LOG_TEXT             keep the raw comment text of each prediction (true/false); default: true on the
                                    embedded store, false when DATABASE_URL is set (then say so explicitly)
    PREDICTION_LOG_RETENTION_DAYS   default window of `ytsentiment purge` (days, default 30)
    PREDICTION_LOG_QUEUE_SIZE       rows waiting (per API worker: in memory, in the pipe and in its log process)
                                    before new ones are dropped (default 10000)
    PREDICTION_LOG_BATCH_SIZE       rows per INSERT batch (default 200)
    PREDICTION_LOG_FLUSH_SECONDS    longest wait before a partial batch is written; the API's log process reads
                                    its worker's pipe once per this interval, or sooner when the pipe is full
                                    (default 1.0)
    PREDICTION_LOG_SPOOL_DIR        where the API's workers spool predictions for the log's writer (default
                                    var/prediction-spool; local disk, shared by the workers and the writer)
    PREDICTION_LOG_SPOOL_BYTES      spool budget: rows past it are dropped and counted (default 1073741824, 1 GiB)
    PREDICTION_LOG_SEGMENT_BYTES    a worker's spool segment is closed (handed to the writer) at this size
                                    (default 1048576)
    PREDICTION_LOG_SEGMENT_SECONDS  ... or at this age (default 1.0)
    FEEDBACK_EXPORT_MAX_PER_CLIENT  most feedback rows one client contributes to an export (default 200)
    FEEDBACK_EXPORT_MIN_AGREEMENT   share of clients that must agree on a text's label (default 1.0: any conflict
                                    drops the text)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ytsentiment.environ import env_number, parse_bool

DEFAULT_DATABASE_URL = "sqlite:///var/ytsentiment.db"
@dataclass(frozen=True)
class StorageSettings:
    database_url: str = DEFAULT_DATABASE_URL
    embedded: bool = True  # DATABASE_URL unset: the SQLite file under var/
    log_text: bool = True
    retention_days: int = 30
    queue_size: int = 10_000
    batch_size: int = 200
    flush_seconds: float = 1.0
    export_max_per_client: int = 200
    spool_dir: str = "var/prediction-spool"
    spool_bytes: int = 1 << 30
    segment_bytes: int = 1 << 20
    segment_seconds: float = 1.0
    export_min_agreement: float = 1.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StorageSettings:
        env = os.environ if env is None else env
        url = env.get("DATABASE_URL", "").strip()
        embedded = not url
        text = env.get("PREDICTION_LOG_TEXT", "").strip()
        return cls(
            database_url=url or DEFAULT_DATABASE_URL,
            embedded=embedded,
            log_text=parse_bool("PREDICTION_LOG_TEXT", text) if text else embedded,
            retention_days=env_number(env, "PREDICTION_LOG_RETENTION_DAYS", cls.retention_days, int, 1),
            queue_size=env_number(env, "PREDICTION_LOG_QUEUE_SIZE", cls.queue_size, int, 1),
            batch_size=env_number(env, "PREDICTION_LOG_BATCH_SIZE", cls.batch_size, int, 1),
            flush_seconds=env_number(env, "PREDICTION_LOG_FLUSH_SECONDS", cls.flush_seconds, float, 0.01, 3600),
            export_max_per_client=env_number(env, "FEEDBACK_EXPORT_MAX_PER_CLIENT", cls.export_max_per_client, int, 1),
            export_min_agreement=env_number(env, "FEEDBACK_EXPORT_MIN_AGREEMENT", cls.export_min_agreement, float,
                                         0.5, 1.0),
            spool_dir=env.get("PREDICTION_LOG_SPOOL_DIR", "").strip() or cls.spool_dir,
            spool_bytes=env_number(env, "PREDICTION_LOG_SPOOL_BYTES", cls.spool_bytes, int, 0),
            segment_bytes=env_number(env, "PREDICTION_LOG_SEGMENT_BYTES", cls.segment_bytes, int, 1),
            segment_seconds=env_number(env, "PREDICTION_LOG_SEGMENT_SECONDS", cls.segment_seconds, float, 0.01, 3600),
        )


def database_url() -> str:
    """DATABASE_URL, or the embedded SQLite file."""
    return StorageSettings.from_env().database_url
