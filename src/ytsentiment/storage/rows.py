"""What a logged prediction row holds besides the model's answer: cheap text descriptors, the text's hash, its id.

``describe(text)`` is pure and fast (it runs for every served comment); the monitoring job watches these
descriptors for drift without needing the raw text, which is only kept when PREDICTION_LOG_TEXT is on:

    n_chars           len(text): Unicode code points, as sent
    n_words           whitespace-separated tokens (``len(text.split())``)
    emoji_share       code points that belong to an emoji (``emoji.emoji_list``) / n_chars; 0 for ""
    non_letter_share  visible characters (not whitespace) that are not letters (digits, punctuation, symbols,
                      emoji) / visible characters; 0 when there is none
"""

from __future__ import annotations

import functools
import hashlib
import os
import uuid
from collections.abc import Sequence
from datetime import datetime

from ytsentiment.contract import CLASSES


def sha256_text(text: str) -> str:
    """Hex sha256 of the text exactly as sent (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_prediction_id() -> str:
    """A fresh prediction id (UUID4 string), made when the request is served."""
    return str(uuid.uuid4())


def new_prediction_ids(n: int) -> list[str]:
    """``n`` fresh prediction ids: random version-4 UUID strings, as ``str(uuid.uuid4())`` makes them, from one
    ``os.urandom`` call (much cheaper than ``n`` ``uuid4()`` objects)."""
    hexed = os.urandom(16 * n).hex()
    ids = []
    for start in range(0, 32 * n, 32):
        h = hexed[start:start + 32]
        # version nibble 4; variant bits 10 (the 17th hex digit is one of 8, 9, a, b)
        ids.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}")
    return ids


@functools.cache
def _emoji_chars() -> frozenset[str]:
    """Every non-ASCII character of any emoji: each emoji has one (keycaps too: U+20E3), so a text without any of
    them has no emoji, and ``emoji.emoji_list`` (the main cost of a row) is skipped."""
    import emoji

    return frozenset(c for key in emoji.EMOJI_DATA for c in key if not c.isascii())


def describe(text: str) -> dict[str, float | int]:
    """Cheap descriptors of one comment (see the module docstring for their definitions)."""
    import emoji

    n_chars = len(text)
    in_emoji = (sum(m["match_end"] - m["match_start"] for m in emoji.emoji_list(text))
                if n_chars and not _emoji_chars().isdisjoint(text) else 0)
    # map() over str methods loops in C, not in a Python generator (and a letter is never whitespace)
    visible = n_chars - sum(map(str.isspace, text))
    non_letters = visible - sum(map(str.isalpha, text))
    return {
        "n_chars": n_chars,
        "n_words": len(text.split()),
        "emoji_share": in_emoji / n_chars if n_chars else 0.0,
        "non_letter_share": non_letters / visible if visible else 0.0,
    }


def prediction_row(*, text: str, sentiment: int, proba: Sequence[float], model_name: str, model_version: str,
                   created_at: datetime, log_text: bool, prediction_id: str | None = None,
                   video_id: str | None = None, language: str | None = None,
                   latency_ms: float | None = None) -> dict:
    """One ``predictions`` row (built by the log's writer, ``storage.spool``). ``proba`` is in class order
    (-1, 0, 1), as the model's ``predict_proba`` returns it; ``confidence`` is the probability of the predicted
    class."""
    if sentiment not in CLASSES:
        raise ValueError(f"sentiment {sentiment!r} is not one of {CLASSES}")
    if len(proba) != len(CLASSES):
        raise ValueError(f"proba has {len(proba)} values, expected {len(CLASSES)} in class order {CLASSES}")
    probs = dict(zip(CLASSES, (float(p) for p in proba), strict=True))
    return {
        "id": prediction_id or new_prediction_id(),
        "created_at": created_at,
        "model_name": model_name,
        "model_version": str(model_version),
        "video_id": video_id,
        "text": text if log_text else None,
        "text_sha256": sha256_text(text),
        "sentiment": int(sentiment),
        "confidence": probs[int(sentiment)],
        "proba_negative": probs[-1],
        "proba_neutral": probs[0],
        "proba_positive": probs[1],
        **describe(text),
        "language": language,
        "latency_ms": latency_ms,
    }


def shadow_row(*, prediction_id: str, sentiment: int, proba: Sequence[float], model_name: str, model_version: str,
               created_at: datetime, latency_ms: float) -> dict:
    """One ``shadow_predictions`` row: the challenger's answer for production's ``prediction_id`` (``proba`` in
    class order -1, 0, 1)."""
    if sentiment not in CLASSES:
        raise ValueError(f"sentiment {sentiment!r} is not one of {CLASSES}")
    if len(proba) != len(CLASSES):
        raise ValueError(f"proba has {len(proba)} values, expected {len(CLASSES)} in class order {CLASSES}")
    probs = dict(zip(CLASSES, (float(p) for p in proba), strict=True))
    return {"prediction_id": prediction_id, "model_version": str(model_version), "model_name": model_name,
            "created_at": created_at, "sentiment": int(sentiment), "confidence": probs[int(sentiment)],
            "proba_negative": probs[-1], "proba_neutral": probs[0], "proba_positive": probs[1],
            "latency_ms": float(latency_ms)}
