"""The monitoring job's reads and writes in the database (and the API's: ``monitor_runs`` feeds its gauges).

- ``load_window``: the predictions of one model version to monitor (the last ``size``, or those of the last
  ``hours``), strictly after its baseline's end, oldest first.
- ``get_baseline`` / ``pin_baseline`` / ``load_baseline_frame``: the version's own reference, its first ``size``
  served predictions, pinned once in ``monitor_baselines`` (by the first run that finds that many).
- ``load_feedback``: the feedback labels of that version next to what the model had predicted for each comment
  (joined on ``prediction_id``, or on the text's sha256 when the feedback names no prediction).
- ``record_monitor_run`` / ``monitor_runs``: one row in ``monitor_runs``; the latest rows, JSON decoded.
- ``latest_version``: the newest version seen in the prediction log (when the registry has no ``production``).

A database that cannot be read (wrong URL, schema not migrated) is a ``YtSentimentError`` saying so.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from ytsentiment import YtSentimentError
from ytsentiment.storage.db import safe_url
from ytsentiment.storage.models import Feedback, MonitorBaseline, MonitorRun, Prediction, utcnow

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

WINDOW_COLUMNS = ("id", "created_at", "model_version", "video_id", "text", "text_sha256", "sentiment", "confidence",
                  "n_chars", "n_words", "emoji_share", "non_letter_share", "language")
# The order predictions were served in, as far as the log knows it. One request's predictions share their
# created_at and their ids are random, so the text's hash breaks those ties: the same log always gives the same
# baseline, window and drift figures (the id orders only identical texts, whose rows read the same).
SERVED_ORDER = (Prediction.created_at, Prediction.text_sha256, Prediction.id)
FIGURES = {"drift_score", "drift_detected", "class_mix_distance", "live_macro_f1", "live_accuracy"}


def as_utc(moment: Any) -> datetime:
    """A timezone-aware UTC ``datetime`` from a datetime, a pandas Timestamp or an ISO string (naive = UTC)."""
    import pandas as pd  # not at import: the API and the prediction log import this package without needing it

    ts = pd.Timestamp(moment)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


def _frame(engine: Engine, stmt, columns) -> pd.DataFrame:
    import pandas as pd

    try:
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
    except (OperationalError, ProgrammingError) as exc:
        raise YtSentimentError(f"monitor: cannot read {safe_url(engine.url)}: {exc.orig or exc}. Is DATABASE_URL "
                               "right and the schema migrated (`ytsentiment db-upgrade`)?") from None
    return pd.DataFrame([tuple(r) for r in rows], columns=list(columns))


def _of_version(stmt, model_name: str, model_version: str):
    return stmt.where(Prediction.model_name == model_name, Prediction.model_version == str(model_version))


def latest_version(engine: Engine, model_name: str) -> str | None:
    p = Prediction
    stmt = select(p.model_version).where(p.model_name == model_name).order_by(p.created_at.desc()).limit(1)
    frame = _frame(engine, stmt, ["model_version"])
    return None if frame.empty else str(frame.iloc[0, 0])


def first_predictions(engine: Engine, model_name: str, model_version: str, size: int) -> pd.DataFrame:
    stmt = _of_version(select(*(Prediction.__table__.c[c] for c in WINDOW_COLUMNS)), model_name, model_version)
    return _frame(engine, stmt.order_by(*SERVED_ORDER).limit(size), WINDOW_COLUMNS)


def get_baseline(engine: Engine, model_name: str, model_version: str) -> dict[str, Any] | None:
    """The pinned baseline of this version (window_start, window_end, n_predictions, pinned_at ...), or None."""
    with Session(engine) as session:
        found = session.get(MonitorBaseline, (model_name, str(model_version)))
        return None if found is None else _plain(found)


def pin_baseline(engine: Engine, model_name: str, model_version: str, size: int,
                 now: datetime | None = None) -> tuple[dict[str, Any] | None, pd.DataFrame]:
    """Pin the version's first ``size`` predictions as its baseline, if it has served that many.

    Returns ``(record, frame)``; ``(None, frame)`` when there are fewer than ``size`` (nothing is pinned yet). A
    baseline already pinned stands (another job's, pinned first, included) and its rows are returned.
    """
    frame = first_predictions(engine, model_name, model_version, size)
    if len(frame) < size:
        return None, frame
    with Session(engine, expire_on_commit=False) as session:
        found = session.get(MonitorBaseline, (model_name, str(model_version)))
        if found is None:
            session.add(MonitorBaseline(
                model_name=model_name, model_version=str(model_version), n_predictions=len(frame),
                window_start=as_utc(frame["created_at"].min()), window_end=as_utc(frame["created_at"].max()),
                pinned_at=now or utcnow()))
            try:
                session.commit()
            except IntegrityError:  # another job pinned it first: theirs stands
                session.rollback()
    record = get_baseline(engine, model_name, model_version)
    if record is None:  # the row that refused ours was deleted meanwhile
        raise YtSentimentError(f"monitor: the baseline of {model_name} v{model_version} vanished while pinning it")
    log.info("baseline of %s v%s: %d predictions %s .. %s", model_name, model_version, record["n_predictions"],
             record["window_start"], record["window_end"])
    return record, load_baseline_frame(engine, model_name, model_version, record)


def load_baseline_frame(engine: Engine, model_name: str, model_version: str, record: dict[str, Any]) -> pd.DataFrame:
    """The predictions of a pinned baseline (its first ``n_predictions`` rows)."""
    return first_predictions(engine, model_name, model_version, int(record["n_predictions"]))


def load_window(engine: Engine, model_name: str, model_version: str, by: str, size: int,
                hours: float, after: datetime | None = None, now: datetime | None = None) -> pd.DataFrame:
    """The predictions to monitor: the last ``size`` (``by="count"``) or else those of the last ``hours`` up to
    ``now`` (``by="time"``), strictly after ``after`` (the baseline's end), oldest first."""
    p = Prediction
    stmt = _of_version(select(*(p.__table__.c[c] for c in WINDOW_COLUMNS)), model_name, model_version)
    if after is not None:
        stmt = stmt.where(p.created_at > as_utc(after))
    if by == "count":
        stmt = stmt.order_by(*(c.desc() for c in SERVED_ORDER)).limit(size)
    else:
        end = as_utc(now) if now is not None else datetime.now(UTC)
        stmt = stmt.where(p.created_at > end - timedelta(hours=hours), p.created_at <= end).order_by(*SERVED_ORDER)
    frame = _frame(engine, stmt, WINDOW_COLUMNS)
    return frame.iloc[::-1].reset_index(drop=True) if by == "count" else frame


def load_feedback(engine: Engine, model_name: str, model_version: str) -> pd.DataFrame:
    """Feedback given on this version's predictions: ``label`` (a person's) and ``sentiment`` (the model's).

    Feedback that names no prediction (sent with the text alone) is matched to this version's prediction of the
    same text (sha256); what still has no prediction is kept with ``sentiment`` empty and counted as unusable.
    """
    import pandas as pd

    f, p = Feedback, Prediction
    stmt = (select(f.id, f.created_at, f.label, f.text_sha256, f.prediction_id, p.sentiment)
            .outerjoin(p, (p.id == f.prediction_id) & (p.model_version == str(model_version)))
            .where(f.model_version == str(model_version))
            .where((f.model_name == model_name) | f.model_name.is_(None)))
    frame = _frame(engine, stmt, ["id", "created_at", "label", "text_sha256", "prediction_id", "sentiment"])
    missing = frame["sentiment"].isna() & frame["text_sha256"].notna()
    if missing.any():
        shas = sorted(set(frame.loc[missing, "text_sha256"]))
        by_sha = _frame(engine, _of_version(select(p.text_sha256, p.sentiment, p.created_at), model_name,
                                            model_version).where(p.text_sha256.in_(shas)),
                        ["text_sha256", "sentiment", "created_at"])
        latest = by_sha.sort_values("created_at").drop_duplicates("text_sha256", keep="last")
        frame.loc[missing, "sentiment"] = frame.loc[missing, "text_sha256"].map(
            latest.set_index("text_sha256")["sentiment"])
    frame["sentiment"] = pd.to_numeric(frame["sentiment"], errors="coerce")
    return frame


def record_monitor_run(engine: Engine, *, model_name: str, model_version: str, window_start: datetime,
                       window_end: datetime, n_predictions: int, n_feedback: int, decision: str,
                       reasons: list[str] | None = None, summary: dict[str, Any] | None = None,
                       run_at: datetime | None = None, **figures: float | bool | None) -> int:
    """Store one monitoring run; ``figures``: drift_score, drift_detected, class_mix_distance, live_macro_f1,
    live_accuracy. Returns its id."""
    if unknown := set(figures) - FIGURES:
        raise TypeError(f"record_monitor_run: unknown figures {sorted(unknown)} (allowed: {sorted(FIGURES)})")
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
    query = select(MonitorRun.__table__).order_by(MonitorRun.run_at.desc(), MonitorRun.id.desc()).limit(limit)
    if model_name is not None:
        query = query.where(MonitorRun.model_name == model_name)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    for row in rows:
        row["reasons"], row["summary"] = json.loads(row["reasons"]), json.loads(row["summary"])
    return rows


def _plain(obj) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}
