"""Honest figures in headless Chromium with the real API: comments in other languages are counted apart and left
out of every figure and chart request; each month of the trend shows its count and a sparse month is marked; the
like-weighted score is explained and a viral comment does not decide it; the class shares carry their 95 % interval.

The fixture video `mixedLang01` (tests/extension/fixtures/make_fixtures.py) is hand-written: 33 English comments
(31 in 2024-03, one of them with 1,000,000 likes; 2 in 2024-05) and 7 in Spanish (3), Japanese (2) and Russian (2).
Expected values are worked out here from those facts (Wilson intervals and like weights by their formulas), and from
the real API's predictions for the sentiments themselves.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

pytestmark = pytest.mark.slow
VALID = "yt-test-key-valid"
MIXED = "mixedLang01"
DONE_TIMEOUT = 90_000
FOREIGN = {"es": 3, "ja": 2, "ru": 2}
ENGLISH = 33
VIRAL_LIKES = 1_000_000
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_comments() -> list[dict]:
    """The mixed video's comments in the order the popup reads them (relevance: by likes)."""
    page = json.loads((FIXTURES / "mixed-language-video.json").read_text(encoding="utf-8"))
    return [
        {
            "text": s["textOriginal"],
            "likes": s["likeCount"],
            "author": s["authorChannelId"]["value"],
            "timestamp": s["publishedAt"],
        }
        for s in (item["snippet"]["topLevelComment"]["snippet"] for item in page["items"])
    ]


def is_foreign(text: str) -> bool:
    """Hand classification of the fixture: the Spanish, Japanese and Russian comments."""
    return text.startswith(("Me encanta", "No me gustó", "Muchas gracias", "この", "音声", "Отличное", "Ужасное"))


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def pct(x: float) -> str:
    """As the popup writes a fraction: whole percent, rounded half up; one decimal below 1 %."""
    p = x * 100
    return f"{p:.1f}%" if 0 < p < 1 else f"{math.floor(p + 0.5)}%"


@pytest.fixture
def mixed_page(page, extension_id, settings, sentiment_api):
    """The popup's results for the mixed-language video, with every request body the popup sent to the API."""
    settings.set(apiKey=VALID, apiBase=sentiment_api, maxComments=100)
    sent = {}

    def record(request):
        if request.url.startswith(sentiment_api) and request.method == "POST":
            sent[request.url.removeprefix(sentiment_api)] = json.loads(request.post_data)

    page.on("request", record)
    page.goto(f"chrome-extension://{extension_id}/popup.html?videoId={MIXED}")
    expect(page.locator("body")).to_have_attribute("data-state", "done", timeout=DONE_TIMEOUT)
    return page, sent


def test_other_languages_are_counted_apart_and_left_out(mixed_page):
    page, sent = mixed_page
    comments = fixture_comments()
    assert len(comments) == ENGLISH + sum(FOREIGN.values()) == 40
    english = [c for c in comments if not is_foreign(c["text"])]
    assert len(english) == ENGLISH

    expect(page.locator("#languages-note")).to_be_visible()
    expect(page.locator("#languages-note")).to_have_text(
        "7 comments in other languages were not scored (es 3, ja 2, ru 2). They are left out of the counts, "
        "averages, charts and word cloud.")
    expect(page.locator("#m-total")).to_have_text("40")
    expect(page.locator("#m-scored")).to_have_text(str(ENGLISH))

    # What the API said about each comment: exactly the foreign ones are not scored.
    analyze = sent["/analyze"]
    assert analyze["video_id"] == MIXED
    assert [c["text"] for c in analyze["comments"]] == [c["text"] for c in comments]

    # The pie counts are the scored comments only, on the page and in the chart request.
    shown = {k: int(page.locator(f"#c-{name}").inner_text()) for k, name in
             (("1", "positive"), ("0", "neutral"), ("-1", "negative"))}
    assert sum(shown.values()) == ENGLISH
    assert {k: int(v) for k, v in sent["/generate_chart"]["sentiment_counts"].items()} == shown
    # The trend and the word cloud get the English comments only.
    trend = sent["/generate_trend_graph"]["sentiment_data"]
    assert sorted(d["timestamp"] for d in trend) == sorted(c["timestamp"] for c in english)
    assert sorted(sent["/generate_wordcloud"]["comments"]) == sorted(c["text"] for c in english)

    # The Spanish comment with 5000 likes is in the top list, badged "not scored", its correction control off.
    spanish = page.locator("#top-comments > li", has_text="Me encanta este vídeo")
    expect(spanish.locator(".badge")).to_have_text("not scored (es)")
    expect(spanish.locator(".feedback button:enabled")).to_have_count(0)
    expect(spanish.locator(".fb-status")).to_have_text("Not scored: this comment is in another language (es).")
    for name in ("chart", "trend", "wordcloud"):
        expect(page.locator(f'figure[data-chart="{name}"]')).to_have_attribute("data-loaded", "true")


def test_months_viral_comment_and_share_intervals(mixed_page, sentiment_api):
    page, _ = mixed_page
    comments = fixture_comments()

    # Each month of the trend with its number of scored comments; May (2 comments) is too sparse to read.
    months = page.locator("#months > li")
    expect(months).to_have_count(2)
    expect(months.nth(0)).to_have_text("2024-03: 31 comments")
    expect(months.nth(0)).not_to_have_class("sparse")
    expect(months.nth(1)).to_have_text("2024-05: 2 comments (too few to read)")
    expect(months.nth(1)).to_have_class("sparse")
    assert "Too few comments" in months.nth(1).get_attribute("title")

    # The viral comment leads the top list, and the like-weighted score is the log-weighted mean of the scored
    # comments: its weight 1 + ln(1 + 10^6) = 14.8 against 32 others of at least 1 each.
    first = page.locator("#top-comments > li").first
    expect(first.locator(".likes")).to_have_text("1,000,000 likes")
    weights = {i: 1 + math.log1p(c["likes"]) for i, c in enumerate(comments) if not is_foreign(c["text"])}
    viral = next(i for i, c in enumerate(comments) if c["likes"] == VIRAL_LIKES)
    assert weights[viral] / sum(weights.values()) < 1 / 3
    answer = requests.post(f"{sentiment_api}/analyze", json={"comments": comments}, timeout=60).json()
    predictions = answer["predictions"]
    sentiments = {i: predictions[i]["sentiment"] for i in weights}
    expected = (sum(weights[i] * sentiments[i] for i in weights) / sum(weights.values()) + 1) * 5
    assert float(page.locator("#m-weighted").inner_text()) == pytest.approx(expected, abs=0.051)
    expected_mean = (sum(sentiments.values()) / ENGLISH + 1) * 5
    assert float(page.locator("#m-score").inner_text()) == pytest.approx(expected_mean, abs=0.051)
    help_text = page.locator("#weighted-help")
    expect(help_text).to_be_visible()
    expect(help_text).to_contain_text("likes are log-weighted")
    expect(help_text).to_contain_text("one viral comment cannot decide it alone")
    assert "log-weighted" in page.locator("#weighted-metric").get_attribute("title")

    # Hovering a class shows its share of the scored comments and the 95 % (Wilson) interval.
    for key, name in (("1", "positive"), ("0", "neutral"), ("-1", "negative")):
        k = sum(1 for s in sentiments.values() if str(s) == key)
        low, high = wilson(k, ENGLISH)
        title = page.locator(f".counts li.{name}").get_attribute("title")
        assert title.startswith(f"{name}: {pct(k / ENGLISH)} of {ENGLISH} scored comments; "
                                f"95% interval {pct(low)}–{pct(high)}"), title
