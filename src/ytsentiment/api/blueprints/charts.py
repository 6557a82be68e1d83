"""Chart endpoints: ``/generate_chart``, ``/generate_wordcloud``, ``/generate_trend_graph`` (PNG; no model needed).

Request models, routes and OpenAPI entries; the drawing itself is ``ytsentiment.api.charts``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ytsentiment.api import charts, openapi
from ytsentiment.api.endpoints import ApiBlueprint, parse_body, png
from ytsentiment.api.schemas import (
    STRICT,
    Count,
    Limits,
    Sentiment,
    Timestamp,
    comment_text,
    list_request,
    parse_timestamp,
)
from ytsentiment.api.state import current_state

bp = ApiBlueprint("charts", __name__)


@bp.request_models
def request_models(limits: Limits) -> list[type[BaseModel]]:
    class SentimentCounts(BaseModel):
        model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=False)
        positive: Count = Field(0, alias="1", description="Number of positive comments.")
        neutral: Count = Field(0, alias="0", description="Number of neutral comments.")
        negative: Count = Field(0, alias="-1", description="Number of negative comments.")

    class ChartRequest(BaseModel):
        model_config = STRICT
        sentiment_counts: SentimentCounts

    class SentimentPoint(BaseModel):
        model_config = STRICT
        timestamp: Timestamp
        sentiment: Sentiment

    WordcloudRequest = list_request("WordcloudRequest", "comments", comment_text(limits), limits)
    TrendRequest = list_request("TrendRequest", "sentiment_data", SentimentPoint, limits, "points")

    return [ChartRequest, WordcloudRequest, TrendRequest]


@bp.api_route("/generate_chart", "POST", openapi.post(
    "Pie chart of sentiment counts.", "ChartRequest", openapi.PNG, needs_model=False))
def generate_chart():
    counts = parse_body("ChartRequest").sentiment_counts
    return png(charts.sentiment_pie({1: counts.positive, 0: counts.neutral, -1: counts.negative}))


@bp.api_route("/generate_wordcloud", "POST", openapi.post(
    "Word cloud of the comments (stopwords, URLs and @handles removed).", "WordcloudRequest", openapi.PNG,
    needs_model=False))
def generate_wordcloud():
    return png(charts.wordcloud_png(parse_body("WordcloudRequest").comments))


TREND = openapi.post("Monthly share of each sentiment.", "TrendRequest", openapi.PNG, needs_model=False)
TREND["description"] = ("Each month's comment count is written under it; months with fewer than MIN_MONTH_COMMENTS "
                        "comments are sparse: hollow markers on a shaded column.")


@bp.api_route("/generate_trend_graph", "POST", TREND)
def generate_trend_graph():
    body = parse_body("TrendRequest")
    points = [(parse_timestamp(p.timestamp), p.sentiment) for p in body.sentiment_data]
    return png(charts.trend_png(points, current_state().settings.min_month_comments))
