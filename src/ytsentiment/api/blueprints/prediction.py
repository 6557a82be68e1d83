"""Prediction endpoints: ``/predict``, ``/predict_with_timestamps``, ``/analyze`` (request models, routes, docs).

Each needs the model: a worker still loading it makes the request wait up to MODEL_WAIT_SECONDS, then answers
503 with Retry-After. ``/analyze`` returns the predictions and every summary figure the extension shows
(``SentimentService.summarize``), so the popup computes nothing itself.

Every prediction carries its ``prediction_id`` (for ``POST /feedback``), ``language`` and ``language_supported``;
the body may name the ``video_id`` the comments come from, and ask ``"explain": true`` for each prediction's ``why``
(the few terms that pushed it toward its label; absent when not asked, null for a comment the model does not read).
Each request's predictions are spooled for the prediction log (``ytsentiment.api.storage``) without waiting for the
database, and a sample of requests is scored by the challenger, if any, once the answer is sent
(``ytsentiment.api.shadow``): the answer never depends on it.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any, Literal

from flask import Response, after_this_request, jsonify
from pydantic import BaseModel, Field

from ytsentiment.api import openapi
from ytsentiment.api.endpoints import ApiBlueprint, parse_body
from ytsentiment.api.schemas import (
    STRICT,
    Count,
    Limits,
    Timestamp,
    VideoId,
    comment_text,
    list_request,
    parse_timestamp,
)
from ytsentiment.api.service import EXPLAIN_TERMS, SentimentService
from ytsentiment.api.state import current_state
from ytsentiment.api.storage import current_storage
from ytsentiment.contract import CLASSES, NAMES

SMALL_REQUEST = 50  # comments; larger requests take the worker's large-prediction lock (ApiState.large_prediction)
Confidence = Annotated[float, Field(ge=0, le=1, description="Probability of the predicted class.")]
Explain = Annotated[bool, Field(description=(
    f"true: every prediction also carries `why`, the (at most {EXPLAIN_TERMS}) terms that pushed its comment most "
    "toward its label; it costs more time per comment (make bench-api prints how much)."))]


class WhyTerm(BaseModel):
    term: str = Field(description=(
        "A word or phrase of the comment as the model read it: lowercased, links as `url`, @handles as `user`, emoji "
        "by name, some YouTube idiom rewritten; or a feature of the whole comment: `lexicon` (its words' scores in "
        "the VADER sentiment lexicon), `length`, `words`, `emoji`, `exclamations`, `questions`. Text from the "
        "comment: show it as text, never as markup."))
    weight: float = Field(gt=0, description=(
        "How far the term pushed the comment toward its label, in log-odds: its contribution to the predicted "
        "class's score minus the mean of its contributions to the other two."))


class Prediction(BaseModel):
    comment: str = Field(description="The comment as sent.")
    sentiment: Literal[CLASSES]  # type: ignore[valid-type]  # the contract's tuple, read by pydantic at runtime
    label: Literal[NAMES]  # type: ignore[valid-type]
    confidence: Confidence
    prediction_id: str = Field(description="Id of this prediction (a UUID made by the server): what POST /feedback "
                                           "names.")
    language: str = Field(description="ISO 639-1 code of the comment's language (`en`, `es` ...), or `und` when "
                                      "the comment is too short or unclear to tell.")
    language_supported: bool = Field(description=(
        "False when the model does not read the comment's language (only English and undetermined comments are "
        "read): the comment is still classified, but /analyze leaves it out of its figures."))
    why: list[WhyTerm] | None = Field(None, max_length=EXPLAIN_TERMS, description=(
        f"Only when the request asked `\"explain\": true` (absent otherwise): at most {EXPLAIN_TERMS} terms that "
        "pushed the comment most toward its label, largest weight first (empty when none pushed it that way); "
        "null for a comment the model does not read (`language_supported` false), and for every comment when the "
        "served model cannot explain (one from before explanations)."))


class TimestampedPrediction(Prediction):
    timestamp: str = Field(description="The timestamp as sent.")


class AnalyzedComment(Prediction):
    timestamp: str | None = Field(None, description="The timestamp as sent, when one was sent.")


class Counts(BaseModel):
    negative: int = Field(alias="-1", ge=0)
    neutral: int = Field(alias="0", ge=0)
    positive: int = Field(alias="1", ge=0)


class Share(BaseModel):
    share: float | None = Field(ge=0, le=1, description="Share of the scored comments in this class (null when "
                                                         "no comment was scored).")
    low: float | None = Field(ge=0, le=1, description="Lower bound of its 95 % Wilson score interval.")
    high: float | None = Field(ge=0, le=1, description="Upper bound of its 95 % Wilson score interval.")


class Shares(BaseModel):
    negative: Share = Field(alias="-1")
    neutral: Share = Field(alias="0")
    positive: Share = Field(alias="1")


class Month(BaseModel):
    month: str = Field(pattern=r"^\d{4}-\d{2}$", description="Calendar month (UTC), YYYY-MM.")
    count: int = Field(ge=1, description="Scored comments of the month.")
    counts: Counts
    sparse: bool = Field(description="Fewer than MIN_MONTH_COMMENTS scored comments: the month's shares are noisy.")


class Summary(BaseModel):
    total: int = Field(ge=1, description="Every comment sent.")
    scored: int = Field(ge=0, description="Comments the figures below are computed over: those in a language the "
                                          "model reads (English, or undetermined) = total - other_languages.")
    other_languages: int = Field(ge=0, description="Comments in a language the model does not read.")
    languages: dict[str, int] = Field(description="Those comments by language (ISO 639-1 code: count).")
    counts: Counts = Field(description="Scored comments per class.")
    shares: Shares = Field(description="Each class's share of the scored comments, with a 95 % Wilson interval.")
    average_sentiment: float | None = Field(ge=0, le=10, description=(
        "Mean sentiment of the scored comments mapped to [0, 10]; null when none was scored."))
    like_weighted_sentiment: float | None = Field(ge=0, le=10, description=(
        "Mean sentiment of the scored comments with each weighted by 1 + ln(1 + likes) (no `likes` sent counts "
        "as 0), mapped to [0, 10]; null when none was scored. The weight grows with the logarithm of the likes, "
        "so liked comments count more but one viral comment cannot decide the score alone (1000 likes weigh "
        "~7.9, not 1001)."))
    average_words: float | None = Field(ge=0, description=(
        "Mean number of whitespace-separated words per scored comment; null when none was scored."))
    unique_commenters: int = Field(ge=0, description="Number of distinct non-empty `author` values of the scored "
                                                     "comments.")
    months: list[Month] = Field(description=(
        "Per calendar month (UTC) holding a scored comment with a `timestamp`, oldest first; empty when no "
        "timestamp was sent."))


class AnalyzeResponse(BaseModel):
    predictions: list[AnalyzedComment]
    summary: Summary


bp = ApiBlueprint("prediction", __name__, response_models=[Prediction, TimestampedPrediction, AnalyzeResponse])


@bp.after_request
def never_cache(response: Response) -> Response:
    """Predictions hold people's comments: no cache (browser, proxy) keeps a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.request_models
def request_models(limits: Limits) -> list[type[BaseModel]]:
    CommentText = comment_text(limits)

    class TimestampedComment(BaseModel):
        model_config = STRICT
        text: CommentText  # type: ignore[valid-type]  # built from the app's limits
        timestamp: Timestamp

    class AnalyzeComment(BaseModel):
        model_config = STRICT
        text: CommentText  # type: ignore[valid-type]  # built from the app's limits
        timestamp: Timestamp | None = None
        likes: Count | None = None
        author: Annotated[str, Field(max_length=limits.max_comment_chars)] | None = None

    video: dict[str, Any] = {"video_id": (VideoId | None, None), "explain": (Explain, False)}
    PredictRequest = list_request("PredictRequest", "comments", CommentText, limits, **video)
    TimestampedPredictRequest = list_request("TimestampedPredictRequest", "comments", TimestampedComment, limits,
                                             **video)
    AnalyzeRequest = list_request("AnalyzeRequest", "comments", AnalyzeComment, limits, **video)
    return [PredictRequest, TimestampedPredictRequest, AnalyzeRequest]


def _predict(texts: list[str], video_id: str | None, explain: bool = False) -> list[dict[str, Any]]:
    state = current_state()
    service = state.require_service()
    timings: dict[str, float] = {}
    with state.large_prediction if len(texts) > SMALL_REQUEST else contextlib.nullcontext():
        predictions, proba = service.predict_with_proba(texts, timings, explain)
    state.metrics.count_predictions([p["label"] for p in predictions])
    store = current_storage()
    if store is not None:
        info = state.holder.model.info  # type: ignore[union-attr]  # loaded: require_service() returned

        def after_sending() -> None:
            store.record(model_info=info, video_id=video_id, predictions=predictions, proba=proba,
                         ms=timings["model_ms"])
            state.shadow.offer(texts, predictions)

        @after_this_request
        def log_after_sending(response):
            # Once the answer has been sent (call_on_close): one JSON line appended to this worker's spool (the
            # host's log writer builds the rows and loads them: storage.spool); a sampled request is queued for
            # the challenger (api.shadow), which scores it in its own thread.
            response.call_on_close(after_sending)
            return response
    return predictions


@bp.api_route("/predict", "POST", openapi.post(
    "Classify comments (one prediction per comment, in order).", "PredictRequest",
    openapi.json_list("Prediction", "Predictions."), needs_model=True))
def predict():
    body = parse_body("PredictRequest")
    current_state().require_service()  # before any work: a 503 should cost nothing
    return jsonify(_predict(body.comments, body.video_id, body.explain))


@bp.api_route("/predict_with_timestamps", "POST", openapi.post(
    "Classify timestamped comments; timestamps are echoed.", "TimestampedPredictRequest",
    openapi.json_list("TimestampedPrediction", "Predictions."), needs_model=True))
def predict_with_timestamps():
    body = parse_body("TimestampedPredictRequest")
    predictions = _predict([c.text for c in body.comments], body.video_id, body.explain)
    pairs = zip(predictions, body.comments, strict=True)
    return jsonify([{**p, "timestamp": c.timestamp} for p, c in pairs])


ANALYZE = openapi.post(
    "Predictions plus summary figures in one round trip.", "AnalyzeRequest",
    openapi.ok("Predictions and summary.", "AnalyzeResponse"), needs_model=True)
ANALYZE["description"] = (
    "`summary.total` counts every comment; comments in a language the model does not read are counted in "
    "`other_languages` (by language in `languages`) and every other figure is over the `scored` rest. "
    "`like_weighted_sentiment` weighs each comment by 1 + ln(1 + likes). `shares` give each class's share with a "
    "95 % Wilson score interval; `months` (when timestamps are sent) flag months with fewer than "
    "MIN_MONTH_COMMENTS scored comments as `sparse`. With `\"explain\": true` each prediction carries its `why`.")


@bp.api_route("/analyze", "POST", ANALYZE)
def analyze():
    body = parse_body("AnalyzeRequest")
    predictions = _predict([c.text for c in body.comments], body.video_id, body.explain)
    summary = SentimentService.summarize(
        predictions, likes=[c.likes for c in body.comments], authors=[c.author for c in body.comments],
        timestamps=[parse_timestamp(c.timestamp) if c.timestamp is not None else None for c in body.comments],
        min_month_comments=current_state().settings.min_month_comments)
    for p, c in zip(predictions, body.comments, strict=True):
        if c.timestamp is not None:
            p["timestamp"] = c.timestamp
    return jsonify({"predictions": predictions, "summary": summary})
