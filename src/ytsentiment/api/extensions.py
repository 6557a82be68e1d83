"""Extension objects bound to each app in the factory: Flask's ``init_app(app)`` pattern (as ``flaskr/db.py``).

An extension is a module-level object holding no app of its own; ``init_app(app)`` stores what it needs for
that app under ``app.extensions[<its name>]`` (read it back through ``current_app`` in views) and registers its
hooks (``app.teardown_appcontext`` to close sessions ...). ``create_app`` calls ``init_extensions(app)`` after
the settings and ``ApiState`` exist and before the blueprints are registered, so views can rely on every
extension. Configuration comes from the environment, documented in ``.env.example`` like ``ytsentiment.api.settings``.

Bound here, in this order:

- ``ytsentiment.api.storage.storage``: the database (prediction log, feedback, monitoring run for /metrics);
- ``ytsentiment.api.limits.rate_limits``: Flask-Limiter for /feedback and the prediction routes (one per app).
"""

from __future__ import annotations

from typing import Protocol

from flask import Flask

from ytsentiment.api.limits import rate_limits
from ytsentiment.api.storage import storage


class Extension(Protocol):
    def init_app(self, app: Flask) -> None: ...


EXTENSIONS: tuple[Extension, ...] = (storage, rate_limits)


def init_extensions(app: Flask) -> None:
    """Bind every extension of ``EXTENSIONS`` to ``app``."""
    for extension in EXTENSIONS:
        extension.init_app(app)
