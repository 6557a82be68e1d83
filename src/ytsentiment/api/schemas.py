"""The request-model toolkit every blueprint builds its bodies from: field types, per-app limits, error details.

Request models are built per app from its ``Limits`` (each blueprint module's ``request_models(limits)``), so
their JSON Schemas in /openapi.json carry the configured limits and cannot drift from the validation.
Validation is strict (no "1" for 1, no true for 1) and reports every problem at once. ``validation_problem``
turns pydantic's errors into the API's ``{"error", "detail"}`` shape with a status: 413 when a list or comment
is over its limit, 400 otherwise; a body that is not JSON is explained by ``json_problem`` (what, line, column).
Comment texts may hold no C0 control character but tab, line feed and carriage return (``no_control_characters``).
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model

from ytsentiment.contract import CLASSES

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
Sentiment = Annotated[int, Field(ge=min(CLASSES), le=max(CLASSES), description="-1, 0 or 1."),
                      BeforeValidator(_integral)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT), BeforeValidator(_integral)]
VIDEO_ID_PATTERN = r"^[A-Za-z0-9_-]{11}$"
VideoId = Annotated[str, Field(pattern=VIDEO_ID_PATTERN, examples=["dQw4w9WgXcQ"], description=(
    "The YouTube video the comments come from (its 11-character id), stored with each logged prediction."))]


@dataclasses.dataclass(frozen=True)
class Limits:
    """The per-app limits baked into the request models' JSON Schemas and quoted in error details."""

    max_comments: int
    max_comment_chars: int
    max_content_length: int

    @classmethod
    def of(cls, settings) -> Limits:
        return cls(settings.max_comments, settings.max_comment_chars, settings.max_content_length)


STRICT = ConfigDict(strict=True, extra="ignore")


# C0 control characters other than tab, line feed and carriage return: no comment holds them, PostgreSQL refuses
# NUL in text, and SQLite's C API cuts text at it. The same set as a JSON Schema pattern (for /openapi.json).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_C0 = r"\u0000-\u0008\u000b\u000c\u000e-\u001f"
NO_CONTROL_PATTERN = rf"^[^{_C0}]*$"
NO_CONTROL_TEXT_PATTERN = rf"^[^{_C0}]*[^\s{_C0}][^{_C0}]*$"  # and at least one character that is not a space


def no_control_characters(value: str) -> str:
    """``value`` unchanged; ValueError naming the first C0 control character (other than \\t \\n \\r) in it."""
    found = _CONTROL.search(value)
    if found:
        raise ValueError(f"holds the control character U+{ord(found.group()):04X} at position {found.start()}; "
                         f"text may hold no control characters other than tab, line feed and carriage return")
    return value


def comment_text(limits: Limits) -> Any:
    """A comment's text, at most MAX_COMMENT_CHARS characters, no C0 control characters but \\t \\n \\r."""
    return Annotated[str, Field(max_length=limits.max_comment_chars, description="The comment's text.",
                                json_schema_extra={"pattern": NO_CONTROL_PATTERN}),
                     AfterValidator(no_control_characters)]


def item_list(item: Any, limits: Limits, what: str = "comments") -> Any:
    """A list of 1 to MAX_COMMENTS ``item``s (comments, chart points ...)."""
    return Annotated[list[item], Field(min_length=1, max_length=limits.max_comments,
                                       description=f"1 to {limits.max_comments} {what}.")]


def list_request(name: str, field: str, item: Any, limits: Limits, what: str = "comments",
                 **extra: tuple[Any, Any]) -> type[BaseModel]:
    """A strict request model ``name`` whose field ``field`` is a list of 1 to MAX_COMMENTS ``item``s (plus the
    ``extra`` fields, as ``create_model`` takes them: ``name=(type, default)``)."""
    fields: dict[str, Any] = {field: (item_list(item, limits, what), ...), **extra}
    return create_model(name, __config__=STRICT, **fields)


def validation_problem(exc: ValidationError, limits: Limits, body: bytes = b"") -> tuple[int, str]:
    """Return (status, detail) for a failed validation of ``body``: every error as ``field: message``, at most 10."""
    status = 400
    lines = []
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        where = _where(loc)
        message = error["msg"]
        if error["type"] == "json_invalid":
            message = json_problem(body, error.get("ctx", {}).get("error", "parse error"))
        elif error["type"] == "too_long" and loc in (("comments",), ("sentiment_data",)):
            status = 413
            message += f"; send at most MAX_COMMENTS={limits.max_comments} per request (split the batch)"
        elif error["type"] == "string_too_long" and (loc[-1] == "text" or isinstance(loc[-1], int)):
            status = 413
            message += f"; comments are limited to MAX_COMMENT_CHARS={limits.max_comment_chars}"
        elif error["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        lines.append(f"{where}: {message}" if where else message)
    more = len(lines) - 10
    detail = "; ".join(lines[:10]) + (f"; and {more} more" if more > 0 else "")
    return status, detail


def json_problem(body: bytes, parser_error: str = "parse error") -> str:
    """What is wrong with a body that is not valid JSON, and where, in plain words.

    pydantic's parser says "unexpected end of hex escape" for a lone surrogate and "EOF while parsing" for an
    empty body; the standard library's parser names the problem and its line and column, and accepts lone
    surrogates, which are then located here (no UTF-8 text, and so no comment, can hold one).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"body is not valid JSON: it is not UTF-8 text (byte 0x{body[exc.start]:02x} at offset {exc.start})"
    if not text.strip():
        return "body is not valid JSON: it is empty; send a JSON object"
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return f"body is not valid JSON: {exc.msg.lower()} at line {exc.lineno}, column {exc.colno}"
    at = _lone_surrogate(text)
    if at is None:
        return f"body is not valid JSON ({parser_error})"
    line = text.count("\n", 0, at) + 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1
    return (f"body holds an invalid character: the escape {text[at:at + 6]} at line {line}, column {column} is an "
            f"unpaired surrogate (\\ud800-\\udfff escapes only come in high-low pairs that encode one character)")


_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)


def _lone_surrogate(text: str) -> int | None:
    """The offset of the first \\uXXXX escape in ``text`` that is half of a surrogate pair without its other half."""
    high: tuple[int, int] | None = None  # (start, end) of a high surrogate escape waiting for its low half
    for escape in _ESCAPE.finditer(text):
        code = int(escape.group(1), 16) if escape.group(1) else None
        is_low = code is not None and 0xDC00 <= code <= 0xDFFF
        if high is not None:
            if is_low and escape.start() == high[1]:
                high = None
                continue
            return high[0]
        if code is not None and 0xD800 <= code <= 0xDBFF:
            high = (escape.start(), escape.end())
        elif is_low:
            return escape.start()
    return high[0] if high else None


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
