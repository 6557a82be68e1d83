"""ytsentiment: YouTube comment sentiment, from DVC training to a served, promoted model."""

__version__ = "0.1.0"

LABELS = {-1: "negative", 0: "neutral", 1: "positive"}


class YtSentimentError(Exception):
    """An expected failure with a message that says what went wrong and how to fix it (exit code 2)."""
