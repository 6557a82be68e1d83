"""Rate limits (Flask-Limiter, one ``Limiter`` per app, sliding-window counters), each over limit a 429 with
Retry-After.

- ``POST /feedback``: FEEDBACK_RATE_LIMIT per client id (the body's, else the address) and
  FEEDBACK_ADDRESS_RATE_LIMIT per address.
- The prediction routes (``/predict``, ``/predict_with_timestamps``, ``/analyze``): PREDICT_RATE_LIMIT requests and
  PREDICT_CHARS_LIMIT comment characters per address, so one greedy client cannot take every worker's CPU; the
  characters are what a request costs the model (``"explain": true`` counts each character EXPLAIN_COST times).

The address is ``request.remote_addr``: the client's own, or behind TRUSTED_PROXIES proxies the one they saw.
Counters live in RATELIMIT_STORAGE_URI: ``memory://`` (default) keeps them per worker process, so with N workers a
client may get up to N times a limit; a shared store (``redis://HOST:6379``, needs the ``redis`` package) makes the
limits shared across workers and instances. When the store fails, requests are let through (and the failure logged).
Sliding-window counters (two per key: exact in the first window, then the previous window weighted by its share
still in view), not moving windows: a moving window stores one entry per unit of cost, so a characters limit in the
millions held millions of entries per address in every worker and copied them on each request. One ``Limiter`` per
app, not per module: a Limiter keeps its storage and limits on itself, so a shared one would mix the counters of
every app in the process (tests build many).
"""

from __future__ import annotations

import math
import re
import time

from flask import Flask, current_app, jsonify, request

from ytsentiment.api.blueprints import feedback, prediction
from ytsentiment.api.state import EXTENSION_KEY

LIMITER_KEY = "ytsentiment.limiter"
EXPLAIN_COST = 2  # an explained comment's characters count twice: the target cost of "explain" (make bench-api)


def remote_key() -> str:
    return f"addr:{request.remote_addr or 'unknown'}"


def client_key() -> str:
    """The /feedback body's ``client_id`` when it is well-formed, else the remote address (never raises)."""
    try:
        length = request.content_length
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        if request.is_json and length is not None and (limit is None or length <= limit):
            body = request.get_json(silent=True)
            client = body.get("client_id") if isinstance(body, dict) else None
            if isinstance(client, str) and re.fullmatch(feedback.CLIENT_ID_PATTERN, client):
                return f"client:{client}"
    except Exception:  # noqa: BLE001 - an unreadable body is the view's to report; key on the address
        pass
    return remote_key()


def comment_chars() -> int:
    """The characters of the comments in this request's body, times EXPLAIN_COST when it asks ``"explain": true``
    (at least 1; 1 for a body that is not readable)."""
    body = request.get_json(silent=True) if request.is_json else None
    comments = body.get("comments") if isinstance(body, dict) else None
    if not isinstance(comments, list):
        return 1
    texts = (c.get("text") if isinstance(c, dict) else c for c in comments)
    cost = EXPLAIN_COST if body.get("explain") is True else 1  # type: ignore[union-attr]  # a dict: comments is set
    return max(1, cost * sum(len(t) for t in texts if isinstance(t, str)))


def too_many(exc):
    """429 in the usual shape, with Retry-After: the seconds until the breached limit lets this client in again."""
    limiter = current_app.extensions.get(LIMITER_KEY)
    limit = limiter.current_limit if limiter is not None else None
    wait = max(1, math.ceil(limit.reset_at - time.time())) if limit is not None else 60
    response = jsonify(error="too many requests", detail=f"{exc.description}; retry after {wait} seconds (Retry-After)")
    response.status_code = 429
    response.headers["Retry-After"] = str(wait)
    return response


def _said(limits: str) -> str:
    return limits.replace(";", " and ")


class RateLimits:
    """The extension object: ``init_app(app)`` gives the app its own ``Limiter`` with the limits above."""

    def init_app(self, app: Flask) -> None:
        from flask_limiter import Limiter

        settings = app.extensions[EXTENSION_KEY].settings
        # headers_enabled off: Flask-Limiter would put its window's Retry-After on every answer, even on a 201 or
        # over a 503's own; the 429 handler sets it.
        limiter = Limiter(key_func=remote_key, storage_uri=settings.ratelimit_storage_uri,
                          strategy="sliding-window-counter", headers_enabled=False, swallow_errors=True,
                          key_prefix="ytsentiment")
        limiter.init_app(app)
        limiter.limit(settings.feedback_rate_limit, key_func=client_key,
                      error_message=f"the feedback limit per client is {_said(settings.feedback_rate_limit)}"
                      )(feedback.bp)
        limiter.limit(settings.feedback_address_rate_limit, key_func=remote_key,
                      error_message=f"the feedback limit per address is {_said(settings.feedback_address_rate_limit)}"
                      )(feedback.bp)
        limiter.limit(settings.predict_rate_limit, key_func=remote_key,
                      error_message=f"the prediction limit per address is {_said(settings.predict_rate_limit)} "
                                    "requests")(prediction.bp)
        limiter.limit(settings.predict_chars_limit, key_func=remote_key, cost=comment_chars,
                      error_message=f"the prediction limit per address is {_said(settings.predict_chars_limit)} "
                                    "comment characters")(prediction.bp)
        app.register_error_handler(429, too_many)
        app.extensions[LIMITER_KEY] = limiter


rate_limits = RateLimits()
