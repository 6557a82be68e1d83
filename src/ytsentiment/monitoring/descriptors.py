"""Text descriptors the monitor compares: the very ones the API logs with each prediction.

One definition, ``ytsentiment.storage.rows.describe`` (``n_chars``, ``n_words``, ``emoji_share``,
``non_letter_share``), so the training test split (described here) and the logged traffic (described by the API)
are measured alike. They are cheap, need no downloads, and move when the traffic changes kind (spam full of links,
another script, bare emoji replies) even when the words themselves are unknown. Evidently's ``Sentiment`` and
``OOV`` descriptors are not used: they call ``nltk.download`` at run time, which needs the internet.
"""

from __future__ import annotations

from ytsentiment.storage.rows import describe as describe_row

DESCRIPTORS = ("n_chars", "n_words", "emoji_share", "non_letter_share")


def describe_one(text: object) -> dict[str, float]:
    return describe_row(text if isinstance(text, str) else "")


def describe(texts):
    """A DataFrame of ``DESCRIPTORS`` for an iterable of texts (None or non-strings count as empty)."""
    import pandas as pd

    return pd.DataFrame([describe_one(t) for t in texts], columns=list(DESCRIPTORS))
