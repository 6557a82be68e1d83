"""Aggregates in the database (hand-computed figures, idempotent re-loads) and the channel report (escaped text, a
self-contained page checked in headless Chromium), plus the CLI chain collect → score → load → report.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from support.chromium import chromium_path

from batch.fake_youtube import FakeChannel, FakeVideo, FakeYouTube
from ytsentiment.cli import main

CHANNEL = "UC" + "r" * 22
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"  # git-ignored
XSS = "Love it!! <script>window.__xss = 1</script><img src=x onerror=\"window.__xss = 2\"> & more"


@pytest.fixture
def db_url(sqlite_url) -> str:
    """One database is enough here: a migrated SQLite file (tests/support/database.py)."""
    return sqlite_url


def scored(rows: list[tuple]) -> pd.DataFrame:
    """(video, comment id, published, likes, author, sentiment[, text]) → what `score` writes over `collect` rows."""
    frame = pd.DataFrame([r if len(r) == 7 else (*r, f"text of {r[1]}") for r in rows],
                         columns=["video_id", "comment_id", "published_at", "like_count", "author_channel_id",
                                  "sentiment", "text"])
    frame["published_at"] = pd.to_datetime(frame["published_at"], utc=True)
    return frame.assign(channel_id=CHANNEL, confidence=0.9, label="x", model_name="ytsentiment", model_version="7")


def viral_channel() -> pd.DataFrame:
    """Video A: one positive comment with 10,000 likes and 20 unliked negatives (two months). Video B: 3 rows."""
    rows = [("vidA", "a0", "2024-01-10", 10_000, "u0", 1, XSS)]
    rows += [("vidA", f"a{i}", "2024-01-11" if i <= 10 else "2024-02-03", 0, f"u{i % 4}", -1) for i in range(1, 21)]
    rows += [("vidB", "b0", "2024-02-01", 3, "u9", 1), ("vidB", "b1", "2024-02-02", 0, None, 0),
             ("vidB", "b2", "2024-02-05", 1, "u9", -1, "bad <b>bold</b> take")]
    return scored(rows)


def test_aggregates_match_hand_computed_figures(engine, tmp_path):
    from sqlalchemy import select

    from ytsentiment.batch.aggregate import load
    from ytsentiment.storage.batch_models import ChannelLoad, MonthlyAggregate, TopComment, VideoAggregate
    from ytsentiment.storage.db import session_scope

    viral_channel().to_parquet(tmp_path / "scores.parquet")
    result = load(tmp_path / "scores.parquet", CHANNEL, date(2024, 3, 1), engine)
    assert (result.n_comments, result.n_videos, result.n_months) == (24, 2, 2)
    with session_scope(engine) as s:
        videos = {v.video_id: v for v in s.scalars(select(VideoAggregate))}
        months = {m.month: m for m in s.scalars(select(MonthlyAggregate))}
        top = {(t.scope, t.scope_key, t.rank): t for t in s.scalars(select(TopComment))}
        load_row = s.scalars(select(ChannelLoad)).one()
    a, b = videos["vidA"], videos["vidB"]
    # Weights 1 + ln(1 + likes): 10,000 likes -> 1 + ln(10001) = 10.2104; unliked -> 1.
    assert a.like_weighted_score == pytest.approx((10.2104 - 20) / (10.2104 + 20), abs=1e-4)  # -0.324: negative
    assert a.mean_sentiment == pytest.approx(-19 / 21)
    assert (a.n_comments, a.n_positive, a.n_negative, a.n_neutral, a.total_likes) == (21, 1, 20, 0, 10_000)
    assert a.share_negative == pytest.approx(20 / 21) and a.unique_commenters == 4  # u0..u3
    w3, w1 = 1 + math.log(4), 1 + math.log(2)
    assert b.like_weighted_score == pytest.approx((w3 - w1) / (w3 + 1 + w1))
    assert b.unique_commenters == 1  # u9 twice, one unknown author not counted
    assert b.first_published_at == datetime(2024, 2, 1, tzinfo=UTC)
    assert (months["2024-01"].n_comments, months["2024-02"].n_comments) == (11, 13)
    assert months["2024-02"].n_negative == 11 and months["2024-02"].n_positive == 1
    assert top[("positive", "", 1)].comment_id == "a0" and top[("positive", "", 1)].text == XSS
    assert top[("negative", "", 1)].comment_id == "b2"  # the one liked negative; ties broken by date
    assert [top[("video", "vidB", r)].comment_id for r in (1, 2, 3)] == ["b0", "b2", "b1"]
    assert (load_row.model_name, load_row.model_version, load_row.n_videos) == ("ytsentiment", "7", 2)


def test_reloading_a_channel_and_date_replaces_rows_and_other_dates_stay(engine, tmp_path):
    from sqlalchemy import func, select

    from ytsentiment.batch.aggregate import load
    from ytsentiment.storage.batch_models import ChannelLoad, TopComment, VideoAggregate
    from ytsentiment.storage.db import session_scope

    frame = viral_channel()
    frame.to_parquet(tmp_path / "s.parquet")
    day = date(2024, 3, 1)

    def counts():
        with session_scope(engine) as s:
            return tuple(s.scalar(select(func.count()).select_from(t)) for t in (ChannelLoad, VideoAggregate,
                                                                                  TopComment))

    load(tmp_path / "s.parquet", CHANNEL, day, engine)
    first = counts()
    load(tmp_path / "s.parquet", CHANNEL, day, engine)
    assert counts() == first  # same day again: replaced, not doubled
    frame[frame["video_id"] == "vidB"].to_parquet(tmp_path / "b.parquet")
    load(tmp_path / "b.parquet", CHANNEL, day, engine)
    with session_scope(engine) as s:
        assert s.scalars(select(VideoAggregate.video_id)).all() == ["vidB"]
    load(tmp_path / "s.parquet", CHANNEL, date(2024, 3, 2), engine)
    with session_scope(engine) as s:
        assert sorted(map(str, s.scalars(select(ChannelLoad.run_date)))) == ["2024-03-01", "2024-03-02"]

    # A failure inside the transaction leaves the previous load as it was.
    import ytsentiment.batch.aggregate as agg

    broken = agg.Aggregates(videos=agg.figures(frame.assign(month="x"), "video_id").assign(n_comments=None),
                            months=agg.figures(frame.assign(month="2024-01"), "month"), top=frame.head(0))
    with pytest.raises(Exception):  # noqa: B017 - NOT NULL violation from the database
        agg.store(engine, CHANNEL, CHANNEL, date(2024, 3, 2), broken, ("m", "1"), "x", 1)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(VideoAggregate)
                        .where(VideoAggregate.run_date == date(2024, 3, 2))) == 2


def browser_page(path: Path, shot: Path):
    from playwright.sync_api import sync_playwright

    chromium = chromium_path()
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"])
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.resolve().as_uri())
    page.screenshot(path=str(shot), full_page=True)
    return pw, browser, page, requests


def test_report_shows_comments_as_text_never_as_html_and_marks_thin_months(engine, db_url, tmp_path):
    from ytsentiment.batch.aggregate import load

    viral_channel().to_parquet(tmp_path / "scores.parquet")
    load(tmp_path / "scores.parquet", CHANNEL, date(2024, 3, 1), engine)
    out = tmp_path / "report.html"
    assert main(["report", "--channel", CHANNEL, "--out", str(out), "--database-url", db_url,
                 "--min-month-comments", "12"]) == 0
    html = out.read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in html
    assert "onerror=" not in html.replace("onerror=&#34;", "").replace("onerror=&quot;", "")
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "cdn" not in html.lower()
    ARTIFACTS.mkdir(exist_ok=True)
    pw, browser, page, requests = browser_page(out, ARTIFACTS / "channel-report-test.png")
    try:
        texts = page.locator("#top-positive .comment p").all_inner_texts()
        assert texts[0] == XSS  # shown exactly as typed
        assert page.locator("#top-negative .comment p").first.inner_text() == "bad <b>bold</b> take"
        assert page.evaluate("window.__xss") is None  # nothing ran
        assert page.locator("script").count() == 0 and page.locator("main img").count() == 0
        assert page.locator("#top-negative b").count() == 0
        assert [u for u in requests if not u.startswith("file://")] == []  # self-contained: no request out
        assert page.locator("#videos tbody tr").count() == 2
        assert page.locator("#videos tr[data-video=vidA] td.num").nth(1).inner_text() == "-0.32"
        # 2024-01 has 11 comments (< 12): hatched and labelled; 2024-02 (13) is not.
        assert page.locator("#trend g.few-month").evaluate_all("gs => gs.map(g => g.dataset.month)") == ["2024-01"]
        assert page.locator("#trend g[data-month='2024-02'] text").first.text_content() == "13"
        assert page.locator("#trend g[data-month='2024-01'] text").first.text_content() == "11*"
        assert page.locator("#months tr[data-month='2024-01']").inner_text().endswith("too few comments")
        assert "too few" not in page.locator("#months tr[data-month='2024-02']").inner_text()
    finally:
        browser.close()
        pw.stop()


def test_report_for_an_unknown_channel_exits_2(db_url, tmp_path, caplog):
    assert main(["report", "--channel", "@nobody", "--out", str(tmp_path / "r.html"), "--database-url", db_url]) == 2
    assert "no load of channel @nobody" in caplog.text and not (tmp_path / "r.html").exists()


def test_cli_chain_from_the_fake_api_to_the_report(trained_model_dir, training_sources, db_url, tmp_path, monkeypatch):
    texts = training_sources["youtube_thelwall"]["text"].tolist()
    videos = []
    for v, n in enumerate((30, 12)):
        video = FakeVideo(f"clivid{v:05d}", CHANNEL)
        for i in range(n):
            video.add_thread(texts[300 + v * 50 + i], datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=3 * i),
                             likes=i % 5, author=f"UCa{i % 9:021d}")
        videos.append(video)
    comments, scores, report = tmp_path / "comments", tmp_path / "scores.parquet", tmp_path / "r.html"
    monkeypatch.setenv("DATABASE_URL", db_url)
    with FakeYouTube(videos, [FakeChannel(CHANNEL, "@clichannel", [v.video_id for v in videos])]) as fake:
        for name, value in fake.env().items():
            monkeypatch.setenv(name, value)
        assert main(["collect", "--channel", "@clichannel", "--out", str(comments)]) == 0
    assert main(["score", str(comments), "--out", str(scores), "--model-uri", str(trained_model_dir)]) == 0
    assert main(["load", str(scores), "--channel", "@clichannel", "--date", "2025-06-01"]) == 0
    assert main(["load", str(scores), "--channel", "@clichannel", "--date", "2025-06-01"]) == 0
    assert main(["report", "--channel", "@clichannel", "--out", str(report)]) == 0
    frame = pd.read_parquet(scores)
    assert len(frame) == 42 and set(frame["video_id"]) == {"clivid00000", "clivid00001"}
    html = report.read_text(encoding="utf-8")
    assert "Comment sentiment of @clichannel" in html and f"<code>{CHANNEL}</code>" in html
    assert 'data-video="clivid00000"' in html and ">42</b><span>comments" in html
