"""Feedback: a person's label for a comment, stored once per (what it is about, who sent it).

``record_feedback`` is idempotent per client: the same label again is a no-op (``"unchanged"``), another label
replaces the first (``"updated"``: people correct their corrections), else a row is ``"created"``. What the label
is about is either a logged prediction (``prediction_id``: the row copies its text hash, its text when it was
logged, and its model) or, for a comment that was not logged, the text itself (keyed by its sha256).

Feedback is untrusted: labels are checked here, the text sent with a prediction id must be the text that was
predicted, one address may speak for at most ``max_clients_per_address`` client ids a day (``TooManyClients``), and
how much any one client or address weighs is capped when feedback becomes training data (``export``). The address is
stored only as ``address_hash(address)``: pseudonymous, enough to group rows, not to read the address back at a
glance (IPv4 space is small enough to reverse it by brute force: treat the column as personal data).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from ytsentiment.contract import CLASSES
from ytsentiment.storage.errors import InvalidFeedback, TooManyClients, UnknownPrediction
from ytsentiment.storage.models import Feedback, Prediction, utcnow
from ytsentiment.storage.rows import sha256_text

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

MAX_CLIENT_ID = 128
MAX_PREDICTION_ID = 36
CLIENTS_WINDOW = timedelta(days=1)


def address_hash(address: str | None) -> str | None:
    """The first 16 hex digits of the address's sha256 (None for no address)."""
    return None if not address else hashlib.sha256(address.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class FeedbackResult:
    id: int
    status: Literal["created", "updated", "unchanged"]
    label: int
    previous_label: int | None
    prediction_id: str | None
    text_sha256: str

    @property
    def created(self) -> bool:
        return self.status == "created"


def _row(obj) -> dict:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}


def get_prediction(engine: Engine, prediction_id: str) -> dict:
    """The logged prediction as a dict of its columns; ``UnknownPrediction`` when there is none."""
    from sqlalchemy.orm import Session

    if not isinstance(prediction_id, str) or not 0 < len(prediction_id) <= MAX_PREDICTION_ID:
        raise UnknownPrediction(str(prediction_id)[:80])
    with Session(engine) as session:
        found = session.get(Prediction, prediction_id)
        if found is None:
            raise UnknownPrediction(prediction_id)
        return _row(found)


def _validate(label, client_id, prediction_id, text) -> None:
    if isinstance(label, bool) or label not in CLASSES:
        raise InvalidFeedback(f"label must be one of {list(CLASSES)}, got {label!r}")
    if not isinstance(client_id, str) or not client_id.strip() or len(client_id) > MAX_CLIENT_ID:
        raise InvalidFeedback(f"client_id must be a non-empty string of at most {MAX_CLIENT_ID} characters")
    if prediction_id is None and (not isinstance(text, str) or not text.strip()):
        raise InvalidFeedback("send a prediction_id, or the comment's text when it was not logged")
    if text is not None and not isinstance(text, str):
        raise InvalidFeedback("text must be a string")


def record_feedback(engine: Engine, *, label: int, client_id: str, prediction_id: str | None = None,
                    text: str | None = None, model_name: str | None = None, model_version: str | None = None,
                    address: str | None = None, max_clients_per_address: int | None = None,
                    now: datetime | None = None, hashed_address: str | None = None) -> FeedbackResult:
    """Store one label (see the module docstring). Raises ``UnknownPrediction`` for a prediction id that is not in
    the log, ``InvalidFeedback`` for a bad label, a missing client id, or a text that is not the prediction's, and
    ``TooManyClients`` when ``address`` already sent feedback under ``max_clients_per_address`` other client ids in
    the last day. ``hashed_address`` (``address_hash``'s value) stands for ``address`` when only the hash was kept."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm import Session

    _validate(label, client_id, prediction_id, text)
    label, now = int(label), now or utcnow()
    for attempt in range(2):  # a concurrent insert of the same (subject, client) wins the race: then update it
        with Session(engine, expire_on_commit=False) as session:
            if prediction_id is not None:
                pred = session.get(Prediction, prediction_id) if len(prediction_id) <= MAX_PREDICTION_ID else None
                if pred is None:
                    raise UnknownPrediction(prediction_id)
                if text is not None and sha256_text(text) != pred.text_sha256:
                    raise InvalidFeedback(f"the text sent is not the text of prediction {prediction_id}")
                subject, digest = f"p:{prediction_id}", pred.text_sha256
                row_text = text if text is not None else pred.text
                row_model: tuple[str | None, str | None] = (pred.model_name, pred.model_version)
            else:
                if text is None:  # _validate lets no label through without a prediction id or a text
                    raise InvalidFeedback("send a prediction_id, or the comment's text when it was not logged")
                digest = sha256_text(text)
                subject, row_text, row_model = f"t:{digest}", text, (model_name, model_version)
            existing = session.scalars(
                select(Feedback).where(Feedback.subject == subject, Feedback.client_id == client_id)).first()
            if existing is not None:
                previous = existing.label
                status: Literal["updated", "unchanged"] = "unchanged" if previous == label else "updated"
                if status == "updated":
                    existing.label, existing.updated_at = label, now
                if existing.text is None and row_text is not None:
                    existing.text = row_text
                session.commit()
                return FeedbackResult(existing.id, status, label, previous, existing.prediction_id, digest)
            hashed = hashed_address or address_hash(address)
            if hashed is not None and max_clients_per_address is not None:
                others = session.scalar(
                    select(func.count(func.distinct(Feedback.client_id)))
                    .where(Feedback.address == hashed, Feedback.created_at >= now - CLIENTS_WINDOW,
                           Feedback.client_id != client_id)) or 0
                if others >= max_clients_per_address:
                    raise TooManyClients(max_clients_per_address)
            row = Feedback(created_at=now, subject=subject, prediction_id=prediction_id, text=row_text,
                           text_sha256=digest, label=label, client_id=client_id, model_name=row_model[0],
                           model_version=None if row_model[1] is None else str(row_model[1]), address=hashed)
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                if attempt:
                    raise
                continue
            return FeedbackResult(row.id, "created", label, None, prediction_id, digest)
    raise AssertionError("unreachable")


def counts(engine: Engine, since: datetime | None = None, until: datetime | None = None,
           model_version: str | None = None) -> dict[str, int]:
    """How many predictions and feedback rows (optionally in [since, until) and for one model version)."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    result: dict[str, int] = {}
    with Session(engine) as session:
        for name, table in (("predictions", Prediction), ("feedback", Feedback)):
            query = select(func.count()).select_from(table)
            if since is not None:
                query = query.where(table.created_at >= since)
            if until is not None:
                query = query.where(table.created_at < until)
            if model_version is not None:
                query = query.where(table.model_version == str(model_version))
            result[name] = session.scalar(query) or 0  # COUNT(*) always answers a row
    return result
