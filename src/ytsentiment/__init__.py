"""ytsentiment: YouTube comment sentiment, from DVC training to a served, promoted model."""

__version__ = "0.1.0"


class YtSentimentError(Exception):
    """An expected failure with a message that says what went wrong and how to fix it (exit code 2)."""
