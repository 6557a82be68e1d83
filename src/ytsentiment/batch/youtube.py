"""A small client for the YouTube Data API v3: one GET with quota accounting, bounded retries and typed errors.

What it is for: ``ytsentiment collect`` (``batch/collect.py``) pages comment threads, replies, videos, channels and
playlist items through :meth:`YouTubeClient.get`. The code path is the production one; only the base URL changes
in tests (``YOUTUBE_API_BASE_URL`` pointed at a local fake).

- Quota: every request sent is charged at YouTube's cost for its endpoint (``COSTS``; failed and retried requests
  are charged too, as Google does), tallied per endpoint in :class:`Quota`.
- Retries: 5xx, 429, 403 ``rateLimitExceeded``/``userRateLimitExceeded`` and connection errors are retried up to
  ``max_retries`` times with jittered exponential backoff (``backoff_base`` × 2^attempt, halved-to-full jitter,
  capped at ``max_wait``); a ``Retry-After`` header is honoured (a longer one than ``max_wait`` gives up at once).
- Errors: :class:`QuotaExceeded` (stop, keep what was fetched), :class:`KeyRejected` (stop everything),
  :class:`VideoProblem` (comments disabled, video not found: that video only), :class:`ApiUnavailable` (retries
  spent) and :class:`ApiError` for the rest. All are ``YtSentimentError`` with a message saying what to do.

Settings (:class:`ClientSettings`, environment, see ``.env.example``): ``YOUTUBE_API_KEY`` (required),
``YOUTUBE_API_BASE_URL``, ``YOUTUBE_MAX_RETRIES``, ``YOUTUBE_BACKOFF_BASE``, ``YOUTUBE_MAX_WAIT``, ``YOUTUBE_TIMEOUT``.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from pydantic import Field, field_validator

from ytsentiment import YtSentimentError
from ytsentiment.environ import EnvSettings

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://www.googleapis.com/youtube/v3"
# Units per request (https://developers.google.com/youtube/v3/determine_quota_cost). search.list is listed so that
# its price is visible: collect never calls it (a handle is resolved by channels.list?forHandle for 1 unit).
COSTS: dict[str, int] = {
    "commentThreads": 1,
    "comments": 1,
    "videos": 1,
    "channels": 1,
    "playlistItems": 1,
    "search": 100,
}
RETRY_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "backendError", "internalError"})
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
KEY_REASONS = frozenset({"keyInvalid", "keyExpired", "forbidden", "accessNotConfigured", "ipRefererBlocked",
                         "API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "SERVICE_DISABLED"})
VIDEO_REASONS = {
    "commentsDisabled": "comments are disabled",
    "videoNotFound": "video not found (deleted, private or a wrong id)",
    "processingFailure": "YouTube could not list this video's comments (processingFailure)",
}


class ApiError(YtSentimentError):
    """A YouTube Data API error that is neither retryable nor one of the specific kinds below."""

    def __init__(self, message: str, status: int | None = None, reason: str | None = None):
        super().__init__(message)
        self.status, self.reason = status, reason


class QuotaExceeded(ApiError):
    """The project's daily quota is spent: stop, keep what was fetched, resume after the quota resets."""


class KeyRejected(ApiError):
    """The API key is invalid, expired, restricted, or the API is not enabled for its project: stop everything."""


class VideoProblem(ApiError):
    """A problem with one video (comments disabled, not found): report it and carry on with the others."""


class ApiUnavailable(ApiError):
    """Retryable failures outlasted the retry budget (or Retry-After asked for longer than ``max_wait``)."""


class ClientSettings(EnvSettings):
    """The client's settings, read by ``ytsentiment collect`` (``ClientSettings.from_env()``)."""

    api_key: str = Field(min_length=1, repr=False, validation_alias="YOUTUBE_API_KEY", description=(
        "export a YouTube Data API v3 key (Google Cloud console → APIs & Services → Credentials); never write it "
        "into a file in git"))
    base_url: str = Field(DEFAULT_BASE_URL, min_length=1, validation_alias="YOUTUBE_API_BASE_URL")
    max_retries: int = Field(5, ge=0, le=20, validation_alias="YOUTUBE_MAX_RETRIES")
    backoff_base: float = Field(1.0, ge=0.0, le=60.0, validation_alias="YOUTUBE_BACKOFF_BASE")
    max_wait: float = Field(60.0, ge=0.0, le=3600.0, validation_alias="YOUTUBE_MAX_WAIT")
    timeout: float = Field(30.0, ge=0.1, le=600.0, validation_alias="YOUTUBE_TIMEOUT")

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


@dataclass
class Quota:
    """Units spent per endpoint (requests sent × cost)."""

    requests: Counter = field(default_factory=Counter)

    def charge(self, endpoint: str) -> None:
        self.requests[endpoint] += 1

    def units(self, endpoint: str | None = None) -> int:
        if endpoint is not None:
            return self.requests[endpoint] * COSTS.get(endpoint, 1)
        return sum(self.units(e) for e in self.requests)

    def by_endpoint(self) -> dict[str, int]:
        return {f"{e}.list": self.units(e) for e in sorted(self.requests)}

    def describe(self) -> str:
        parts = ", ".join(f"{e} {u}" for e, u in self.by_endpoint().items())
        return f"{self.units()} units" + (f" ({parts})" if parts else "")


def error_details(response: requests.Response) -> tuple[str | None, str]:
    """(reason, message) from Google's error JSON ``{"error": {"code", "message", "errors": [{"reason"}], ...}}``."""
    try:
        err = response.json().get("error", {})
    except ValueError:
        return None, (response.text or response.reason or "")[:200]
    if not isinstance(err, dict):
        return None, str(err)[:200]
    reasons = [e.get("reason") for e in err.get("errors", []) if isinstance(e, dict)]
    reasons += [d.get("reason") for d in err.get("details", []) if isinstance(d, dict)]
    # The most specific reason wins: API_KEY_INVALID (in details) says more than the generic badRequest.
    known = [r for r in reasons if r in KEY_REASONS | QUOTA_REASONS | RETRY_REASONS | set(VIDEO_REASONS)]
    reason = (known or [r for r in reasons if r] or [None])[0]
    return reason, str(err.get("message", ""))


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class YouTubeClient:
    """GET ``{base_url}/{endpoint}`` with the key, quota accounting, retries and typed errors."""

    def __init__(self, settings: ClientSettings, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None):
        self.settings = settings
        self.session = session or requests.Session()
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.quota = Quota()

    def _redact(self, text: str) -> str:
        return text.replace(self.settings.api_key, "***")

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.settings.max_wait, self.settings.backoff_base * 2 ** attempt)
        return self.rng.uniform(ceiling / 2, ceiling)

    def get(self, endpoint: str, **params: Any) -> dict:
        """One API call; retried when transient. Raises one of this module's errors when it cannot succeed."""
        url = f"{self.settings.base_url}/{endpoint}"
        query = {k: v for k, v in params.items() if v is not None}
        query["key"] = self.settings.api_key
        attempt = 0
        while True:
            self.quota.charge(endpoint)
            wait: float | None = None
            try:
                response = self.session.get(url, params=query, timeout=self.settings.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                problem, status, reason = self._redact(f"{type(exc).__name__}: {exc}"), None, None
            else:
                if response.status_code == 200:
                    return response.json()
                status = response.status_code
                reason, message = error_details(response)
                problem = f"HTTP {status} {reason or ''}: {message}".replace(" :", ":")
                self._raise_final(endpoint, status, reason, message, params)
                wait = retry_after_seconds(response.headers.get("Retry-After"))
            if attempt >= self.settings.max_retries:
                raise ApiUnavailable(f"{endpoint}.list still failing after {attempt + 1} attempts ({problem}); "
                                     "the API or the network is unwell: re-run later (collect resumes where it "
                                     "stopped)", status, reason)
            if wait is not None and wait > self.settings.max_wait:
                raise ApiUnavailable(f"{endpoint}.list: the API asked to retry after {wait:.0f} s, more than "
                                     f"YOUTUBE_MAX_WAIT={self.settings.max_wait:g} s ({problem}); re-run later",
                                     status, reason)
            wait = self._backoff(attempt) if wait is None else wait
            log.warning("%s.list: %s; retry %d/%d in %.2f s", endpoint, problem, attempt + 1,
                        self.settings.max_retries, wait)
            self.sleep(wait)
            attempt += 1

    def _raise_final(self, endpoint: str, status: int, reason: str | None, message: str, params: dict) -> None:
        """Raise the typed error for a non-retryable answer; return when the answer is worth a retry."""
        if status >= 500 or status == 429 or reason in RETRY_REASONS:
            return
        where = f"{endpoint}.list"
        if reason in QUOTA_REASONS:
            raise QuotaExceeded(f"{where}: the API quota is spent (403 {reason}); it resets at midnight Pacific "
                                "time, or ask Google for more in the Cloud console", status, reason)
        if reason in VIDEO_REASONS:
            raise VideoProblem(VIDEO_REASONS[reason], status, reason)
        bad_key = reason in KEY_REASONS or (status == 400 and "API key" in message)
        if bad_key or status in (401, 403):
            raise KeyRejected(f"{where}: the API key was rejected (HTTP {status} {reason}: {message}); check "
                              "YOUTUBE_API_KEY, that the YouTube Data API v3 is enabled for its project and that "
                              "its restrictions allow this machine", status, reason)
        if status == 404:
            raise VideoProblem(f"not found ({reason}: {message})", status, reason)
        raise ApiError(f"{where} {params}: HTTP {status} {reason}: {message}", status, reason)
