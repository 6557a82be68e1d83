"""Write predictions and feedback into a migrated test database, as the API's logger would."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

import pandas as pd

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def insert_predictions(engine, frame: pd.DataFrame, model_name: str = "ytsentiment", version: str = "3") -> list[str]:
    """Log ``frame``'s rows (a ``score`` frame) as the API would; returns their prediction ids."""
    from ytsentiment.storage.db import session_scope
    from ytsentiment.storage.models import Prediction

    ids = []
    with session_scope(engine) as session:
        for row in frame.itertuples(index=False):
            pid = str(uuid.uuid4())
            ids.append(pid)
            conf = float(row.confidence)
            rest = (1 - conf) / 2
            proba = {c: (conf if c == row.sentiment else rest) for c in (-1, 0, 1)}
            session.add(Prediction(
                id=pid, created_at=row.created_at, model_name=model_name, model_version=version, video_id="vid",
                text=row.text, text_sha256=hashlib.sha256(row.text.encode()).hexdigest(), sentiment=int(row.sentiment),
                confidence=conf, proba_negative=proba[-1], proba_neutral=proba[0], proba_positive=proba[1],
                n_chars=int(row.n_chars), n_words=int(row.n_words), emoji_share=float(row.emoji_share),
                non_letter_share=float(row.non_letter_share), language="en"))
    return ids


def insert_feedback(engine, prediction_ids: list[str], labels: list[int], texts: list[str],
                    model_name: str = "ytsentiment", version: str = "3", when: datetime = T0) -> None:
    from ytsentiment.storage.db import session_scope
    from ytsentiment.storage.models import Feedback

    with session_scope(engine) as session:
        for i, (pid, label, text) in enumerate(zip(prediction_ids, labels, texts, strict=True)):
            session.add(Feedback(created_at=when, subject=f"p:{pid}", prediction_id=pid, text=text,
                                 text_sha256=hashlib.sha256(text.encode()).hexdigest(), label=int(label),
                                 client_id=f"client-{i % 7}", model_name=model_name, model_version=version))
