"""What the monitoring job reads and writes: windows of predictions and feedback, its runs, the pinned baselines.

Windows are half-open, ``[start, end)`` on ``created_at`` (timezone-aware datetimes). ``feedback_window`` joins
each label with the prediction it is about, so live accuracy compares ``label`` with ``sentiment`` of the same row
(text-only feedback has no ``sentiment``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ytsentiment.storage.models import Feedback, MonitorBaseline, MonitorRun, Prediction, utcnow

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Engine


def _frame(engine: Engine, query) -> pd.DataFrame:
    import pandas as pd

    with engine.connect() as conn:
        result = conn.execute(query)
        return pd.DataFrame(result.mappings().all(), columns=list(result.keys()))


def predictions_window(engine: Engine, start: datetime, end: datetime, model_name: str | None = None,
                       model_version: str | None = None) -> pd.DataFrame:
    """Logged predictions with ``start <= created_at < end``, oldest first (one column per table column)."""
    from sqlalchemy import select

    query = select(Prediction.__table__).where(Prediction.created_at >= start, Prediction.created_at < end)
    if model_name is not None:
        query = query.where(Prediction.model_name == model_name)
    if model_version is not None:
        query = query.where(Prediction.model_version == str(model_version))
    return _frame(engine, query.order_by(Prediction.created_at, Prediction.id))


def feedback_window(engine: Engine, start: datetime, end: datetime, model_name: str | None = None,
                    model_version: str | None = None) -> pd.DataFrame:
    """Feedback with ``start <= created_at < end``: id, created_at, prediction_id, text_sha256, label, client_id,
    model_name, model_version, and the prediction's ``sentiment`` and ``confidence`` (None when not linked)."""
    from sqlalchemy import select

    query = (select(Feedback.id, Feedback.created_at, Feedback.prediction_id, Feedback.text_sha256, Feedback.label,
                    Feedback.client_id, Feedback.model_name, Feedback.model_version, Prediction.sentiment,
                    Prediction.confidence)
             .outerjoin(Prediction, Feedback.prediction_id == Prediction.id)
             .where(Feedback.created_at >= start, Feedback.created_at < end))
    if model_name is not None:
        query = query.where(Feedback.model_name == model_name)
    if model_version is not None:
        query = query.where(Feedback.model_version == str(model_version))
    return _frame(engine, query.order_by(Feedback.created_at, Feedback.id))


def record_monitor_run(engine: Engine, *, model_name: str, model_version: str, window_start: datetime,
                       window_end: datetime, n_predictions: int, n_feedback: int, decision: str,
                       reasons: list[str] | None = None, summary: dict[str, Any] | None = None,
                       run_at: datetime | None = None, **figures: float | bool | None) -> int:
    """Store one monitoring run; ``figures``: drift_score, drift_detected, class_mix_distance, live_macro_f1,
    live_accuracy. Returns its id."""
    from sqlalchemy.orm import Session

    allowed = {"drift_score", "drift_detected", "class_mix_distance", "live_macro_f1", "live_accuracy"}
    unknown = set(figures) - allowed
    if unknown:
        raise TypeError(f"record_monitor_run: unknown figures {sorted(unknown)} (allowed: {sorted(allowed)})")
    run = MonitorRun(run_at=run_at or utcnow(), model_name=model_name, model_version=str(model_version),
                     window_start=window_start, window_end=window_end, n_predictions=n_predictions,
                     n_feedback=n_feedback, decision=decision, reasons=json.dumps(reasons or []),
                     summary=json.dumps(summary or {}, sort_keys=True, default=str), **figures)
    with Session(engine) as session:
        session.add(run)
        session.commit()
        return run.id


def monitor_runs(engine: Engine, model_name: str | None = None, limit: int = 20) -> list[dict]:
    """The latest runs, newest first; ``reasons`` and ``summary`` decoded from JSON."""
    from sqlalchemy import select

    query = select(MonitorRun.__table__).order_by(MonitorRun.run_at.desc(), MonitorRun.id.desc()).limit(limit)
    if model_name is not None:
        query = query.where(MonitorRun.model_name == model_name)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    for row in rows:
        row["reasons"], row["summary"] = json.loads(row["reasons"]), json.loads(row["summary"])
    return rows


def pin_baseline(engine: Engine, *, model_name: str, model_version: str, window_start: datetime,
                 window_end: datetime, n_predictions: int, replace: bool = False,
                 now: datetime | None = None) -> dict:
    """Pin a version's baseline window once (``replace=True`` re-pins); returns the pinned record."""
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm import Session

    with Session(engine, expire_on_commit=False) as session:
        found = session.get(MonitorBaseline, (model_name, str(model_version)))
        if found is not None and not replace:
            return _plain(found)
        if found is None:
            found = MonitorBaseline(model_name=model_name, model_version=str(model_version))
            session.add(found)
        found.window_start, found.window_end = window_start, window_end
        found.n_predictions, found.pinned_at = n_predictions, now or utcnow()
        try:
            session.commit()
        except IntegrityError:  # another job pinned it first: theirs stands
            session.rollback()
            theirs = get_baseline(engine, model_name, model_version)
            if theirs is None:  # the row that refused ours was deleted meanwhile
                raise
            return theirs
        return _plain(found)


def get_baseline(engine: Engine, model_name: str, model_version: str) -> dict | None:
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        found = session.get(MonitorBaseline, (model_name, str(model_version)))
        return None if found is None else _plain(found)


def _plain(obj) -> dict:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}
