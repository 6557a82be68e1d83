"""Request bodies as pydantic models built with the configured limits; their JSON Schemas feed /openapi.json.

Validation is strict (no "1" for 1, no true for 1) and reports every problem at once. ``validation_problem``
turns pydantic's errors into the API's ``{"error", "detail"}`` shape with a status: 413 when a list or comment
is over its limit, 400 otherwise.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

TIMESTAMP_FORMATS = (
    "ISO-8601, e.g. 2024-05-01T12:30:00Z, 2024-05-01T12:30:00.5+02:00, 2024-05-01 12:30 or 2024-05-01 "
    "(no offset = UTC)"
)
MAX_TIMESTAMP_CHARS = 64
MAX_COUNT = 10**12  # far above any video's comment count; keeps chart arithmetic in float range
_LEAP_SECOND = re.compile(r"(?<=:)60(?=$|[.,zZ+\-])")


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO-8601 string to an aware UTC datetime; raise ValueError naming the accepted formats."""
    text = value.strip().upper()  # RFC 3339 allows "t" and "z"; fromisoformat wants them upper-case
    extra = timedelta(0)
    if _LEAP_SECOND.search(text):  # RFC 3339 leap second "23:59:60": count it as the next second
        text, extra = _LEAP_SECOND.sub("59", text, count=1), timedelta(seconds=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        shown = value[:MAX_TIMESTAMP_CHARS]
        raise ValueError(f"not a valid timestamp {shown!r}; use {TIMESTAMP_FORMATS}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC) + extra
    try:
        return parsed.astimezone(UTC) + extra
    except OverflowError:  # 0001-01-01T00:00+05:00 has no UTC datetime; hours are moot at the range's ends
        return parsed.replace(tzinfo=UTC)


def _check_timestamp(value: str) -> str:
    parse_timestamp(value)
    return value  # echoed back exactly as sent


def _integral(value: object) -> object:
    # JSON Schema counts 3.0 as an integer; strict validation then still refuses "3", true and 3.5.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Timestamp = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TIMESTAMP_CHARS, description=f"Timestamp, {TIMESTAMP_FORMATS}.",
          examples=["2024-05-01T12:30:00Z"], json_schema_extra={"format": "date-time"}),
    AfterValidator(_check_timestamp),
]
# Not Literal[-1, 0, 1]: a literal would take false for 0 and true for 1.
Sentiment = Annotated[int, Field(ge=-1, le=1, description="-1, 0 or 1."), BeforeValidator(_integral)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT), BeforeValidator(_integral)]


@dataclasses.dataclass(frozen=True)
class Schemas:
    """The request models for one app, with its limits baked into their JSON Schemas."""

    PredictRequest: type[BaseModel]
    TimestampedPredictRequest: type[BaseModel]
    AnalyzeRequest: type[BaseModel]
    ChartRequest: type[BaseModel]
    WordcloudRequest: type[BaseModel]
    TrendRequest: type[BaseModel]


def build_schemas(max_comments: int, max_comment_chars: int) -> Schemas:
    strict = ConfigDict(strict=True, extra="ignore")
    CommentText = Annotated[str, Field(max_length=max_comment_chars, description="The comment's text.")]

    def comment_list(item, what: str = "comments"):
        return Annotated[list[item], Field(min_length=1, max_length=max_comments,
                                           description=f"1 to {max_comments} {what}.")]

    class PredictRequest(BaseModel):
        model_config = strict
        comments: comment_list(CommentText)

    class TimestampedComment(BaseModel):
        model_config = strict
        text: CommentText
        timestamp: Timestamp

    class TimestampedPredictRequest(BaseModel):
        model_config = strict
        comments: comment_list(TimestampedComment)

    class AnalyzeComment(BaseModel):
        model_config = strict
        text: CommentText
        timestamp: Timestamp | None = None
        likes: Count | None = None
        author: Annotated[str, Field(max_length=max_comment_chars)] | None = None

    class AnalyzeRequest(BaseModel):
        model_config = strict
        comments: comment_list(AnalyzeComment)

    class SentimentCounts(BaseModel):
        model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=False)
        positive: Count = Field(0, alias="1", description="Number of positive comments.")
        neutral: Count = Field(0, alias="0", description="Number of neutral comments.")
        negative: Count = Field(0, alias="-1", description="Number of negative comments.")

    class ChartRequest(BaseModel):
        model_config = strict
        sentiment_counts: SentimentCounts

    class WordcloudRequest(BaseModel):
        model_config = strict
        comments: comment_list(CommentText)

    class SentimentPoint(BaseModel):
        model_config = strict
        timestamp: Timestamp
        sentiment: Sentiment

    class TrendRequest(BaseModel):
        model_config = strict
        sentiment_data: comment_list(SentimentPoint, "points")

    return Schemas(PredictRequest, TimestampedPredictRequest, AnalyzeRequest, ChartRequest, WordcloudRequest,
                   TrendRequest)


def validation_problem(exc: ValidationError, limits: dict[str, int]) -> tuple[int, str]:
    """Return (status, detail) for a failed validation: every error as ``field: message``, at most 10."""
    status = 400
    lines = []
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        where = _where(loc)
        message = error["msg"]
        if error["type"] == "json_invalid":
            message = f"body is not valid JSON ({error.get('ctx', {}).get('error', 'parse error')})"
        elif error["type"] == "too_long" and loc in (("comments",), ("sentiment_data",)):
            status = 413
            message += f"; send at most MAX_COMMENTS={limits['max_comments']} per request (split the batch)"
        elif error["type"] == "string_too_long" and (loc[-1] == "text" or isinstance(loc[-1], int)):
            status = 413
            message += f"; comments are limited to MAX_COMMENT_CHARS={limits['max_comment_chars']}"
        elif error["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        lines.append(f"{where}: {message}" if where else message)
    more = len(lines) - 10
    detail = "; ".join(lines[:10]) + (f"; and {more} more" if more > 0 else "")
    return status, detail


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
