"""Security headers on every answer of the API (JSON, PNG, text, errors, CORS preflights).

The API serves data, never pages: nothing it sends should be sniffed into another type, framed, run as a script
or leak the caller's URL onward. Prediction answers hold people's comments, so they are never cached
(``Cache-Control: no-store``, set by the prediction blueprint; PNGs set it themselves).
The ``Server`` header is gunicorn's own (``Server: gunicorn``, without a version since gunicorn 20); gunicorn 26
has no setting to remove or change it, and a WSGI app cannot, so it stays (docs/api/index.md says so).
"""

from __future__ import annotations

from flask import Flask, Response

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def secure(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response
