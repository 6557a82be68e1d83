"""The toolkit of a blueprint module: ``ApiBlueprint`` keeps each route's OpenAPI entry and request models with it.

A blueprint module (``src/ytsentiment/api/blueprints/*.py``) declares, in one place, everything about its endpoints::

    bp = ApiBlueprint("feedback", __name__, response_models=[FeedbackAck])

    @bp.request_models
    def request_models(limits: Limits) -> list[type[BaseModel]]:
        class FeedbackRequest(BaseModel): ...        # limits baked into its JSON Schema
        return [FeedbackRequest]

    @bp.api_route("/feedback", "POST", openapi.post("Record a label.", "FeedbackRequest", ..., needs_model=False))
    def feedback():
        body = parse_body("FeedbackRequest")
        ...

``create_app`` registers every blueprint of ``ytsentiment.api.blueprints.BLUEPRINTS``, builds their request models
once per app (``request_models``, kept in ``ApiState.request_models``) and collects their operations and response
models into ``/openapi.json`` (``ytsentiment.api.openapi.build_openapi``). Adding an endpoint therefore touches its
blueprint module only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from flask import Blueprint, Response, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from ytsentiment.api.errors import ApiError
from ytsentiment.api.schemas import Limits, validation_problem
from ytsentiment.api.state import current_state

ModelBuilder = Callable[[Limits], Iterable[type[BaseModel]]]


class ApiBlueprint(Blueprint):
    """A Flask blueprint that also carries its OpenAPI operations, response models and request-model builder."""

    def __init__(self, name: str, import_name: str, *, response_models: Sequence[type[BaseModel]] = ()) -> None:
        super().__init__(name, import_name)
        self.response_models = tuple(response_models)
        self.operations: dict[str, dict[str, dict]] = {}
        self._model_builder: ModelBuilder | None = None

    def request_models(self, builder: ModelBuilder) -> ModelBuilder:
        """Decorator: ``builder(limits)`` returns this blueprint's request models, built for one app's limits."""
        self._model_builder = builder
        return builder

    def build_request_models(self, limits: Limits) -> dict[str, type[BaseModel]]:
        models = self._model_builder(limits) if self._model_builder else ()
        return {model.__name__: model for model in models}

    def api_route(self, rule: str, method: str, operation: dict) -> Callable:
        """Decorator: route ``method rule`` to the view, documented by ``operation`` (``ytsentiment.api.openapi``)."""
        def register(view: Callable) -> Callable:
            self.operations.setdefault(rule, {})[method.lower()] = operation
            return self.route(rule, methods=[method])(view)

        return register


def request_models(blueprints: Iterable[ApiBlueprint], limits: Limits) -> dict[str, type[BaseModel]]:
    """Every blueprint's request models built for ``limits``, by name; a name declared twice is a ValueError."""
    models: dict[str, type[BaseModel]] = {}
    for bp in blueprints:
        built = bp.build_request_models(limits)
        if clash := set(built) & set(models):
            raise ValueError(f"request models {sorted(clash)} are declared by two blueprints; rename one")
        models.update(built)
    return models


def parse_body(model_name: str) -> Any:
    """The JSON body validated by the app's request model ``model_name``; raises ``ApiError`` 400/413/415."""
    state = current_state()
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        raise ApiError(415, "unsupported media type",
                       f"Content-Encoding {encoding!r} is not accepted; send the JSON body uncompressed "
                       f"(no Content-Encoding, or identity)")
    if not request.is_json:
        raise ApiError(415, "unsupported media type",
                       f"send the body as JSON with the header Content-Type: application/json "
                       f"(got {request.mimetype or 'no content type'!r})")
    body = _body()
    try:
        return state.request_models[model_name].model_validate_json(body)
    except ValidationError as exc:
        status, detail = validation_problem(exc, state.limits, body)
        raise ApiError(status, "invalid request" if status == 400 else "request too large", detail) from None


def _body() -> bytes:
    """The raw body; 413 when a body without Content-Length (chunked) runs past MAX_CONTENT_LENGTH.

    Werkzeug stops reading such a body at the limit and returns what it read, which would then be judged as
    truncated JSON (a 400): one more byte from the server's input tells the two apart.
    """
    data = request.get_data(cache=False)
    limit = request.max_content_length
    if (request.content_length is None and limit is not None and len(data) >= limit
            and request.environ["wsgi.input"].read(1)):
        raise RequestEntityTooLarge()
    return data


def png(data: bytes) -> Response:
    return Response(data, mimetype="image/png", headers={"Cache-Control": "no-store"})
