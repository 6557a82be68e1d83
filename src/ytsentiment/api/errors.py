"""Every failure as JSON ``{"error", "detail"}``: ``ApiError`` raised by views, HTTP errors, unexpected ones.

``detail`` says what to fix (the field, the limit, the allowed methods ...); a 500 never shows internals.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A failure answered as ``{"error", "detail"}`` with ``status`` (and ``headers``, e.g. Retry-After)."""

    def __init__(self, status: int, error: str, detail: str, headers: dict | None = None) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers or {}

_HTTP_DETAILS = {
    400: "the request could not be read; send a JSON body with Content-Type: application/json",
    404: "no endpoint at {path}; GET /openapi.json lists the API's routes",
    405: "{method} is not allowed on {path}; use {allowed}",
    413: "the body is over MAX_CONTENT_LENGTH={max_bytes} bytes; send fewer or shorter comments at once",
    415: "send the body as JSON with the header Content-Type: application/json",
}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        response = jsonify(error=exc.error, detail=exc.detail)
        response.status_code = exc.status
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        allowed = ", ".join(sorted(m for m in (getattr(exc, "valid_methods", None) or []) if m != "OPTIONS"))
        template = _HTTP_DETAILS.get(exc.code or 500, "{description}")
        detail = template.format(path=request.path, method=request.method, allowed=allowed,
                                 max_bytes=app.config["MAX_CONTENT_LENGTH"],
                                 description=exc.description)
        response = exc.get_response()  # keeps headers such as Allow on a 405
        response.set_data(app.json.dumps({"error": (exc.name or "error").lower(), "detail": detail}))
        response.content_type = "application/json"
        return response

    @app.errorhandler(Exception)
    def server_error(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        response = jsonify(error="internal server error",
                           detail="the server failed on this request and logged why; retry, or report it")
        response.status_code = 500
        return response
