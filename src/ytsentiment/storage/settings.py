"""Storage settings from the environment (documented in ``.env.example``), read by each entry point and passed down.

    DATABASE_URL                    SQLAlchemy URL; default: the embedded SQLite file var/ytsentiment.db
                                    (relative to the working directory, like mlflow.db); production:
                                    postgresql+psycopg://USER:PASSWORD@HOST:5432/DB  # pragma: allowlist secret
    PREDICTION_LOG_TEXT             keep the raw comment text of each prediction (true/false); default: true on the
                                    embedded store, false when DATABASE_URL is set (then say so explicitly)
    PREDICTION_LOG_RETENTION_DAYS   default window of `ytsentiment purge` (days, default 30)
    PREDICTION_LOG_SPOOL_DIR        where the API's workers spool predictions for the log's writer (default
                                    var/prediction-spool; local disk, shared by the workers and the writer)
    PREDICTION_LOG_SPOOL_BYTES      spool budget: rows past it are dropped and counted (default 1073741824, 1 GiB)
    PREDICTION_LOG_SEGMENT_BYTES    a worker's spool segment is closed (handed to the writer) at this size
                                    (default 1048576)
    PREDICTION_LOG_SEGMENT_SECONDS  ... or at this age (default 1.0)
    PREDICTION_LOG_WRITER           who runs the host's log writer: ``master`` (gunicorn's master, default) or
                                    ``external`` (``ytsentiment log-writer``, e.g. a sidecar container)
    FEEDBACK_EXPORT_MAX_PER_CLIENT  most feedback rows one client contributes to an export (default 200)
    FEEDBACK_EXPORT_MIN_AGREEMENT   share of voters that must agree on a text's label (default 1.0: any conflict
                                    drops the text)
    FEEDBACK_EXPORT_BURST           most votes of one voter within 60 s; every vote of a busier span is dropped
                                    (default 10)
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ytsentiment.environ import NOT_FROM_ENV, EnvSettings

DEFAULT_DATABASE_URL = "sqlite:///var/ytsentiment.db"


class StorageSettings(EnvSettings):
    database_url: str = Field(DEFAULT_DATABASE_URL, min_length=1, validation_alias="DATABASE_URL")
    embedded: bool = Field(True, json_schema_extra=NOT_FROM_ENV)  # DATABASE_URL unset: the SQLite file under var/
    log_text: bool = Field(True, validation_alias="PREDICTION_LOG_TEXT")
    log_text_set: bool = Field(False, json_schema_extra=NOT_FROM_ENV)  # PREDICTION_LOG_TEXT was given
    retention_days: int = Field(30, ge=1, validation_alias="PREDICTION_LOG_RETENTION_DAYS")
    spool_dir: str = Field("var/prediction-spool", min_length=1, validation_alias="PREDICTION_LOG_SPOOL_DIR")
    spool_bytes: int = Field(1 << 30, ge=0, validation_alias="PREDICTION_LOG_SPOOL_BYTES")
    segment_bytes: int = Field(1 << 20, ge=1, validation_alias="PREDICTION_LOG_SEGMENT_BYTES")
    segment_seconds: float = Field(1.0, ge=0.01, le=3600, validation_alias="PREDICTION_LOG_SEGMENT_SECONDS")
    log_writer: Literal["master", "external"] = Field("master", validation_alias="PREDICTION_LOG_WRITER")
    export_max_per_client: int = Field(200, ge=1, validation_alias="FEEDBACK_EXPORT_MAX_PER_CLIENT")
    export_min_agreement: float = Field(1.0, ge=0.5, le=1.0, validation_alias="FEEDBACK_EXPORT_MIN_AGREEMENT")
    export_burst: int = Field(10, ge=1, validation_alias="FEEDBACK_EXPORT_BURST")

    @model_validator(mode="before")
    @classmethod
    def _embedded_keeps_text(cls, data: Any) -> Any:
        """No DATABASE_URL: the embedded store, which keeps the text unless PREDICTION_LOG_TEXT says otherwise."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        url = data.get("DATABASE_URL", data.get("database_url"))
        data.setdefault("embedded", not url)
        data["log_text_set"] = "PREDICTION_LOG_TEXT" in data or "log_text" in data
        if not data["log_text_set"]:
            data["log_text"] = data["embedded"]
        return data


def database_url() -> str:
    """DATABASE_URL, or the embedded SQLite file."""
    return StorageSettings.from_env().database_url
