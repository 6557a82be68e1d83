"""The monitor's reads and writes in the database (``ytsentiment.storage``: DATABASE_URL, SQLite by default).

- ``load_window``: the predictions of one model version to monitor (the last N, or those of the last hours),
  never earlier than the end of its baseline.
- ``baseline`` / ``pin_baseline`` / ``load_baseline_frame``: the version's own reference, its first
  ``baseline_size`` served predictions, pinned once in ``monitor_baselines`` (on the first run that finds enough).
- ``load_feedback``: the feedback labels of that version next to what the model had predicted for each comment
  (joined on ``prediction_id``, or on the text's sha256 when the feedback names no prediction).
- ``write_run``: one row in ``monitor_runs`` (what the API's gauges read).
- ``latest_version``: the newest version seen in the prediction log (when the registry has no ``production``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from ytsentiment import YtSentimentError
from ytsentiment.config import MonitorParams

log = logging.getLogger(__name__)

WINDOW_COLUMNS = ("id", "created_at", "model_version", "video_id", "text", "text_sha256", "sentiment", "confidence",
                  "n_chars", "n_words", "emoji_share", "non_letter_share", "language")


def _models():
    from ytsentiment.storage import models

    return models


def _frame(engine, stmt, columns):
    import pandas as pd
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from ytsentiment.storage.db import safe_url

    try:
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
    except (OperationalError, ProgrammingError) as exc:
        raise YtSentimentError(f"monitor: cannot read {safe_url(engine.url)}: {exc.orig or exc}. Is DATABASE_URL "
                               "right and the schema migrated (`ytsentiment db-upgrade`)?") from None
    return pd.DataFrame([tuple(r) for r in rows], columns=list(columns))


def _prediction_columns():
    table = _models().Prediction.__table__
    return [table.c[name] for name in WINDOW_COLUMNS]


def latest_version(engine, model_name: str) -> str | None:
    from sqlalchemy import select

    p = _models().Prediction
    stmt = select(p.model_version).where(p.model_name == model_name).order_by(p.created_at.desc()).limit(1)
    frame = _frame(engine, stmt, ["model_version"])
    return None if frame.empty else str(frame.iloc[0, 0])


def baseline(engine, model_name: str, model_version: str) -> dict[str, Any] | None:
    """The pinned baseline of this version (window_start, window_end, n_predictions, pinned_at), or None."""
    from ytsentiment.storage.monitor import get_baseline

    return get_baseline(engine, model_name, str(model_version))


def first_predictions(engine, model_name: str, model_version: str, size: int):
    from sqlalchemy import select

    p = _models().Prediction
    stmt = (select(*_prediction_columns())
            .where(p.model_name == model_name, p.model_version == str(model_version))
            .order_by(p.created_at, p.id).limit(size))
    return _frame(engine, stmt, WINDOW_COLUMNS)


def pin_baseline(engine, model_name: str, model_version: str, size: int, now: datetime | None = None):
    """Pin the version's first ``size`` predictions as its baseline, if it has served that many.

    Returns ``(record, frame)``; ``(None, frame)`` when there are fewer than ``size`` (nothing is pinned yet). When
    another job pinned it first, theirs stands (``storage.monitor.pin_baseline``) and its rows are returned.
    """
    from ytsentiment.storage.monitor import pin_baseline as pin

    frame = first_predictions(engine, model_name, model_version, size)
    if len(frame) < size:
        return None, frame
    record = pin(engine, model_name=model_name, model_version=str(model_version),
                 window_start=_py(frame["created_at"].min()), window_end=_py(frame["created_at"].max()),
                 n_predictions=len(frame), now=now)
    log.info("baseline of %s v%s: %d predictions %s .. %s", model_name, model_version, record["n_predictions"],
             record["window_start"], record["window_end"])
    return record, load_baseline_frame(engine, model_name, model_version, record)


def _py(ts) -> datetime:
    import pandas as pd

    ts = pd.Timestamp(ts)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


def load_baseline_frame(engine, model_name: str, model_version: str, record: dict[str, Any]):
    """The predictions of a pinned baseline (its first ``n_predictions`` rows up to ``window_end``)."""
    return first_predictions(engine, model_name, model_version, int(record["n_predictions"]))


def load_window(engine, model_name: str, model_version: str, params: MonitorParams, after: datetime | None = None,
                now: datetime | None = None):
    """The predictions to monitor: the last ``window_size`` (count) or the last ``window_hours`` (time),
    strictly after ``after`` (the baseline's end), oldest first."""
    from sqlalchemy import select

    p = _models().Prediction
    stmt = select(*_prediction_columns()).where(p.model_name == model_name, p.model_version == str(model_version))
    if after is not None:
        stmt = stmt.where(p.created_at > _py(after))
    if params.window_by == "count":
        stmt = stmt.order_by(p.created_at.desc(), p.id.desc()).limit(params.window_size)
    else:
        end = _py(now) if now is not None else datetime.now(UTC)
        stmt = stmt.where(p.created_at > end - timedelta(hours=params.window_hours), p.created_at <= end)
    frame = _frame(engine, stmt, WINDOW_COLUMNS)
    return frame.iloc[::-1].reset_index(drop=True) if params.window_by == "count" else frame


def load_feedback(engine, model_name: str, model_version: str):
    """Feedback given on this version's predictions: ``label`` (a person's) and ``sentiment`` (the model's).

    Feedback that names no prediction (sent with the text alone) is matched to this version's prediction of the
    same text (sha256); what still has no prediction is kept with ``sentiment`` empty and counted as unusable.
    """
    import pandas as pd
    from sqlalchemy import select

    m = _models()
    f, p = m.Feedback, m.Prediction
    stmt = (select(f.id, f.created_at, f.label, f.text_sha256, f.prediction_id, p.sentiment)
            .outerjoin(p, (p.id == f.prediction_id) & (p.model_version == str(model_version)))
            .where(f.model_version == str(model_version))
            .where((f.model_name == model_name) | f.model_name.is_(None)))
    frame = _frame(engine, stmt, ["id", "created_at", "label", "text_sha256", "prediction_id", "sentiment"])
    missing = frame["sentiment"].isna() & frame["text_sha256"].notna()
    if missing.any():
        shas = sorted(set(frame.loc[missing, "text_sha256"]))
        by_sha = _frame(engine, select(p.text_sha256, p.sentiment, p.created_at)
                        .where(p.model_name == model_name, p.model_version == str(model_version),
                               p.text_sha256.in_(shas)), ["text_sha256", "sentiment", "created_at"])
        latest = by_sha.sort_values("created_at").drop_duplicates("text_sha256", keep="last")
        fill = frame.loc[missing, "text_sha256"].map(latest.set_index("text_sha256")["sentiment"])
        frame.loc[missing, "sentiment"] = fill
    frame["sentiment"] = pd.to_numeric(frame["sentiment"], errors="coerce")
    return frame


def write_run(engine, record: dict[str, Any]) -> int:
    """Insert one ``monitor_runs`` row (``storage.monitor.record_monitor_run``); returns its id."""
    from ytsentiment.storage.monitor import record_monitor_run

    row = dict(record)
    for key in ("run_at", "window_start", "window_end"):
        row[key] = _py(row[key])
    return int(record_monitor_run(engine, **row))
