"""Retention: delete (or blank the text of) logged predictions older than a window.

``purge(engine, older_than)`` deletes predictions (and the challenger's shadow answers) created before
``now - older_than``. Feedback rows about them
stay: their label, text hash, client and model version are kept, and ``prediction_id`` becomes NULL (also what
the foreign key's ON DELETE SET NULL does). Feedback TEXT is kept by default: it is the labelled data a person chose
to send, and what ``feedback export`` turns into training rows; ``feedback_text=True`` blanks it too for feedback
older than the window. ``text_only=True`` keeps the prediction rows (and their descriptors and hashes, which the
drift monitor needs) and blanks their raw text. Everything runs in one transaction.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ytsentiment import YtSentimentError
from ytsentiment.storage.models import Feedback, Prediction, ShadowPrediction, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

_WINDOW = re.compile(r"^\s*(\d+)\s*([dh])\s*$", re.IGNORECASE)


def parse_window(value: str) -> timedelta:
    """``"30d"`` -> 30 days, ``"12h"`` -> 12 hours; anything else (no unit, zero, negative) is refused."""
    match = _WINDOW.match(value or "")
    if not match or int(match.group(1)) == 0:
        raise YtSentimentError(f"--older-than {value!r}: expected a positive number of days or hours, e.g. 30d "
                               "or 12h")
    n, unit = int(match.group(1)), match.group(2).lower()
    return timedelta(days=n) if unit == "d" else timedelta(hours=n)


def purge(engine: Engine, older_than: timedelta, *, text_only: bool = False, feedback_text: bool = False,
          now: datetime | None = None) -> dict[str, int | str]:
    """Apply the retention window; returns what changed (counts) and the cutoff (ISO-8601 UTC)."""
    from sqlalchemy import delete, select, update

    cutoff = (now or utcnow()) - older_than
    old = Prediction.created_at < cutoff
    result: dict[str, int | str] = {"cutoff": cutoff.isoformat(timespec="seconds")}
    with engine.begin() as conn:
        if text_only:
            result["predictions_text_blanked"] = conn.execute(
                update(Prediction).where(old, Prediction.text.is_not(None)).values(text=None)).rowcount
        else:
            result["feedback_unlinked"] = conn.execute(
                update(Feedback).where(Feedback.prediction_id.in_(select(Prediction.id).where(old)))
                .values(prediction_id=None)).rowcount
            result["predictions_deleted"] = conn.execute(delete(Prediction).where(old)).rowcount
            result["shadow_predictions_deleted"] = conn.execute(
                delete(ShadowPrediction).where(ShadowPrediction.created_at < cutoff)).rowcount
        if feedback_text:
            result["feedback_text_blanked"] = conn.execute(
                update(Feedback).where(Feedback.created_at < cutoff, Feedback.text.is_not(None))
                .values(text=None)).rowcount
    return result
