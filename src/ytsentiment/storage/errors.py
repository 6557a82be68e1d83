"""Exceptions of the storage layer; each says what to fix (the API maps them to HTTP statuses)."""

from __future__ import annotations

from ytsentiment import YtSentimentError


class StorageError(YtSentimentError):
    """The database cannot be reached or used as configured (DATABASE_URL, migrations)."""


class UnknownPrediction(YtSentimentError, LookupError):
    """No logged prediction has this id (never logged, dropped while the database was down, or purged): HTTP 404."""

    def __init__(self, prediction_id: str):
        super().__init__(f"unknown prediction_id {prediction_id!r}: it was never logged, or has been purged; send "
                         "the comment's text instead")
        self.prediction_id = prediction_id


class InvalidFeedback(YtSentimentError, ValueError):
    """A feedback record that cannot be stored as sent (bad label, no client id, text not matching): HTTP 422."""


class TooManyClients(YtSentimentError):
    """One address sent feedback under too many client ids in a day: HTTP 429."""

    def __init__(self, limit: int):
        super().__init__(f"this address already sent feedback under {limit} client ids today; new ones are refused "
                         "until a day has passed since the oldest")
        self.limit = limit


class NotLoggedYet(UnknownPrediction):
    """The prediction is not in the database and the spool holds too much to look it up there: retry (HTTP 503)."""
