"""Feedback endpoint: ``POST /feedback`` stores a person's label for a comment (request model, route, docs, limits).

Body: ``{"prediction_id", "label", "client_id"}`` for a prediction the API made (its ``prediction_id`` from
/predict, /predict_with_timestamps or /analyze), or ``{"text", "label", "client_id"}`` for a comment that was not
logged: exactly one of ``prediction_id`` and ``text``. ``label`` is -1, 0 or 1; ``client_id`` an anonymous id
the client keeps (the extension: a random UUID in its storage), 8-64 characters of ``[A-Za-z0-9_-]``.

One label per (comment, client), stored by ``ytsentiment.storage.feedback.record_feedback``: 201 ``created`` the first
time, then 200 ``updated`` (another label replaces it) or ``unchanged``. A prediction still on its way to the
database (in this host's log spool) is written first, so a label sent right after the answer is taken. An unknown
prediction id is 404. When the database cannot be reached the label is queued in the prediction log's spool (202
``queued``; the host's writer stores it when the database is back); only when the log is off or its spool is full
is the answer 503 with Retry-After, the label not saved.

Rate limits (``ytsentiment.api.limits``): FEEDBACK_RATE_LIMIT per client id and FEEDBACK_ADDRESS_RATE_LIMIT per
address; besides, one address may send feedback under at most FEEDBACK_CLIENTS_PER_ADDRESS client ids a day
(counted in the database, so exact across workers): a new id past that is 429 with Retry-After.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from flask import jsonify, request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from ytsentiment.api import openapi
from ytsentiment.api.endpoints import ApiBlueprint, parse_body
from ytsentiment.api.errors import ApiError
from ytsentiment.api.schemas import NO_CONTROL_TEXT_PATTERN, Limits, Sentiment, no_control_characters
from ytsentiment.api.state import current_state
from ytsentiment.api.storage import current_storage
from ytsentiment.contract import CLASSES, LABELS
from ytsentiment.storage.errors import (
    InvalidFeedback,
    NotLoggedYet,
    StorageError,
    TooManyClients,
    UnknownPrediction,
)

log = logging.getLogger(__name__)

CLIENT_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
PREDICTION_ID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
DATABASE_RETRY_AFTER_SECONDS = 30
CLIENTS_RETRY_AFTER_SECONDS = 3600
SPOOL_RETRY_AFTER_SECONDS = 5


class FeedbackAck(BaseModel):
    feedback_id: int | None = Field(description="Id of the stored label (the same on a repeat); null when queued.")
    status: Literal["created", "updated", "unchanged", "queued"] = Field(description=(
        "created (201): first label of this client for this comment; updated (200): the label replaced the "
        "client's earlier one; unchanged (200): the same label again; queued (202): the database is down, the "
        "label waits in the prediction log's spool and is stored when it is back."))
    prediction_id: str | None = Field(description="The prediction the label is about (null for a text).")
    label: Literal[CLASSES] = Field(description="The label stored: -1, 0 or 1.")  # type: ignore[valid-type]


bp = ApiBlueprint("feedback", __name__, response_models=[FeedbackAck])


def _exactly_one_schema(schema: dict[str, Any]) -> None:
    # Absent, not null: the two optional fields have no "default": null, and the schema says one of them is required.
    for name in ("prediction_id", "text"):
        schema["properties"][name].pop("default", None)
    schema["oneOf"] = [{"required": ["prediction_id"], "not": {"required": ["text"]}},
                       {"required": ["text"], "not": {"required": ["prediction_id"]}}]


@bp.request_models
def request_models(limits: Limits) -> list[type[BaseModel]]:
    class FeedbackRequest(BaseModel):
        model_config = ConfigDict(strict=True, extra="ignore", json_schema_extra=_exactly_one_schema)

        # None means absent: typed str, not str | None, so an explicit null is refused (mypy: the ignores).
        prediction_id: Annotated[str, Field(
            pattern=PREDICTION_ID_PATTERN, max_length=36,
            description="The `prediction_id` of a prediction the API made (send it, or `text`).",
        )] = None  # type: ignore[assignment]
        text: Annotated[str, Field(
            min_length=1, max_length=limits.max_comment_chars, pattern=r"\S",
            description="The comment, when it was not predicted by this API (send it, or `prediction_id`).",
            # the schema's pattern: \S and no control characters (see no_control_characters)
            json_schema_extra={"pattern": NO_CONTROL_TEXT_PATTERN},
        ), AfterValidator(no_control_characters)] = None  # type: ignore[assignment]
        label: Sentiment
        client_id: Annotated[str, Field(
            pattern=CLIENT_ID_PATTERN, description="An anonymous id the client keeps (8-64 characters of "
                                                   "A-Z a-z 0-9 _ -), e.g. a random UUID.")]

        @model_validator(mode="after")
        def _exactly_one(self):
            if (self.prediction_id is None) == (self.text is None):
                raise ValueError("send exactly one of prediction_id (from /predict, /predict_with_timestamps or "
                                 "/analyze) or text (a comment that was not predicted)")
            return self

    return [FeedbackRequest]


FEEDBACK_OPERATION = {
    "summary": "Store a person's label for a comment (idempotent per comment and client).",
    "description": (
        "Exactly one of `prediction_id` and `text`. 201 on the first label of a client for a comment, 200 on a "
        "repeat (`updated` or `unchanged`), 202 `queued` while the database is down (stored when it is back); 503 "
        "means the label was not saved. Rate-limited per "
        "client (FEEDBACK_RATE_LIMIT) and per address (FEEDBACK_ADDRESS_RATE_LIMIT), and one address may use at most "
        "FEEDBACK_CLIENTS_PER_ADDRESS client ids a day: 429 with Retry-After."),
    "requestBody": {"required": True, "content": openapi.json_body("FeedbackRequest")},
    "responses": {
        "201": openapi.ok("Label stored.", "FeedbackAck"),
        "202": openapi.ok("The database is down: the label is queued in the prediction log's spool and stored when "
                          "it is back (a label it then refuses, e.g. for an unknown prediction, is counted as "
                          "rejected).", "FeedbackAck"),
        "200": openapi.ok("Repeat: the label was updated, or was already stored.", "FeedbackAck"),
        **openapi.CLIENT_ERRORS,
        "404": openapi.error("No logged prediction has this `prediction_id`; send the comment's `text` instead."),
        "429": openapi.error("Too many labels from this client or address, or too many client ids from this "
                             "address; retry after Retry-After seconds."),
        "503": openapi.error("The database cannot be reached and the label cannot be queued (prediction log off or "
                             "full), or the log is too far behind to find the prediction: the label was not saved; "
                             "retry after Retry-After seconds."),
    },
}


@bp.api_route("/feedback", "POST", FEEDBACK_OPERATION)
def feedback():
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    body = parse_body("FeedbackRequest")
    store = current_storage()
    if store is None:
        raise ApiError(503, "feedback unavailable", "this server has no database for feedback; the label was not "
                       "saved", {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})
    state = current_state()
    model = state.holder.model
    try:
        result = store.record_feedback(label=body.label, client_id=body.client_id, prediction_id=body.prediction_id,
                                       text=body.text, model_info=model.info if model is not None else None,
                                       address=request.remote_addr,
                                       max_clients_per_address=state.settings.feedback_clients_per_address)
    except NotLoggedYet:
        raise ApiError(503, "prediction not logged yet", (
            f"prediction_id {body.prediction_id} is not in the database yet and the prediction log is too far behind "
            f"to look it up; the label was not saved: retry after {SPOOL_RETRY_AFTER_SECONDS} seconds"),
            {"Retry-After": str(SPOOL_RETRY_AFTER_SECONDS)}) from None
    except UnknownPrediction:
        raise ApiError(404, "unknown prediction", (
            f"prediction_id {body.prediction_id} is not in the prediction log (never served, dropped when the "
            "spool was full, or purged); send the comment's text instead"
        )) from None
    except InvalidFeedback as exc:
        raise ApiError(400, "invalid request", str(exc)) from None
    except TooManyClients as exc:
        raise ApiError(429, "too many requests", str(exc), {"Retry-After": str(CLIENTS_RETRY_AFTER_SECONDS)}) from None
    except (SQLAlchemyError, StorageError) as exc:
        why = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
        if isinstance(exc, OperationalError) and store.queue_feedback(
                label=body.label, client_id=body.client_id, prediction_id=body.prediction_id, text=body.text,
                model_info=model.info if model is not None else None, address=request.remote_addr,
                max_clients_per_address=state.settings.feedback_clients_per_address):
            log.info("feedback queued in the spool: database %s: %s", store.where, why)
            state.metrics.count_feedback(LABELS[body.label])
            response = jsonify(feedback_id=None, status="queued", prediction_id=body.prediction_id, label=body.label)
            response.status_code = 202
            return response
        log.warning("feedback not saved: database %s: %s", store.where, why)
        raise ApiError(503, "feedback store unavailable", (
            f"the database cannot be reached, so the label was not saved; retry after "
            f"{DATABASE_RETRY_AFTER_SECONDS} seconds"), {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}) from None
    if result.status != "unchanged":
        state.metrics.count_feedback(LABELS[result.label])
    response = jsonify(feedback_id=result.id, status=result.status, prediction_id=result.prediction_id,
                       label=result.label)
    response.status_code = 201 if result.created else 200
    return response
