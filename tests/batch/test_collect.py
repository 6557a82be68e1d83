"""`ytsentiment collect` against a local fake of the YouTube Data API v3 (real HTTP, real `requests`).

Expected figures are counted by hand from the fake's data: rows = threads + replies; quota units = requests × cost
(videos.list 1 per 50 ids, commentThreads.list 1 per 100 threads, comments.list 1 per 100 replies of a thread
with more than the 5 embedded ones), and checked against the fake's own tally of the requests it received.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from batch.fake_youtube import FIXTURES, FakeChannel, FakeVideo, FakeYouTube, fixture_video, small_video
from ytsentiment.batch.collect import collect, parse_channel, parse_video, read_comments
from ytsentiment.batch.youtube import ClientSettings, YouTubeClient

CH = "UC" + "a" * 22
SMALL, OTHER, BIG = "smallvid001", "otherVid002", "bigVideo250"
REPO = Path(__file__).resolve().parents[2]


def parts(out: Path, video_id: str) -> list[Path]:
    return sorted((out / f"video_id={video_id}").glob("part-*.parquet"))


def rows_of(out: Path, video_id: str | None = None):
    df = read_comments(out)
    return df if video_id is None else df[df["video_id"] == video_id]


def recording_client(fake: FakeYouTube, **settings) -> tuple[YouTubeClient, list[float]]:
    sleeps: list[float] = []
    opts = {"backoff_base": 0.01, "max_wait": 5.0, **settings}
    client = YouTubeClient(ClientSettings(api_key=fake.api_key, base_url=fake.base_url, **opts), sleep=sleeps.append)
    return client, sleeps


# ---- a full collect ------------------------------------------------------------------------------------------------

def test_full_collect_of_the_fixture_video(collect_cli, out):
    index = json.loads((FIXTURES / "index.json").read_text())
    video = fixture_video()
    with FakeYouTube(videos=[video]) as fake:
        res = collect_cli(fake, "--videos", f"https://www.youtube.com/watch?v={index['videoId']}", "--out", out)
        units = fake.units
    assert res.code == 0, res.err
    df = rows_of(out)
    assert len(df) == index["threads"] + index["replyTotal"] == 889
    assert df["comment_id"].is_unique
    assert set(df["video_id"]) == {index["videoId"]}
    top, replies = df[df["parent_id"].isna()], df[df["parent_id"].notna()]
    assert len(top) == 537 and set(replies["parent_id"]) <= set(top["comment_id"])
    for thread_id in index["replies"]:  # the two long chains came whole through comments.list
        assert (replies["parent_id"] == thread_id).sum() == len(video.replies[thread_id]) > 5
        assert top.set_index("comment_id").loc[thread_id, "reply_count"] == len(video.replies[thread_id])
    # textOriginal when present, else the unescaped plain-text textDisplay: the special comments come back verbatim
    assert sum("textOriginal" not in c["snippet"] for c in video.threads.values()) > 100
    for text in ("<script>alert('xss')</script> did this break anything? 😅",
                 'Tom & Jerry > Looney Tunes, "fight me" 🥊',
                 "I'd give this 11/10 — the <b>bold</b> take we needed 🙌",
                 "line one\nline two\n\nline four after a blank line"):
        assert (df["text"] == text).sum() == 1, text
    # 6 thread pages of 100 + 2 reply chains + 1 videos.list; no search.list (100 units)
    assert units == 9
    assert "quota used: 9 units (commentThreads.list 6, comments.list 2, videos.list 1)" in res.out
    assert "Xk7pQ2mN9aB  UCq8Rk3cW1v7Zt0bYpLmN4sA     889      889  ok" in res.out
    assert len(parts(out, index["videoId"])) == 1


def test_rows_schema_and_values_of_a_small_video(collect_cli, out):
    with FakeYouTube(videos=[small_video(SMALL, CH, 3, {1: 7, 2: 2})]) as fake:
        res = collect_cli(fake, "--videos", SMALL, "--out", out)
        assert fake.count("comments", parentId=f"Ugz{SMALL}t0001") == 1  # 7 replies > the 5 embedded
        assert fake.count("comments") == 1 and fake.units == 3
    assert res.code == 0, res.err
    schema = pq.read_schema(parts(out, SMALL)[0])
    assert {f.name: str(f.type) for f in schema} == {
        "comment_id": "string", "parent_id": "string", "channel_id": "string", "text": "string",
        "published_at": "timestamp[us, tz=UTC]", "updated_at": "timestamp[us, tz=UTC]", "like_count": "int64",
        "reply_count": "int64", "author_channel_id": "string", "collected_at": "timestamp[us, tz=UTC]"}
    df = rows_of(out).set_index("text")
    assert len(df) == 3 + 7 + 2
    assert df.loc["comment 1", "reply_count"] == 7 and df.loc["comment 2", "like_count"] == 2
    assert df.loc["comment 0", "published_at"] == datetime(2024, 5, 1, tzinfo=UTC)
    assert df.loc["reply 1.6", "published_at"] == datetime(2024, 5, 1, 1, 7, tzinfo=UTC)
    assert df.loc["reply 1.6", "parent_id"] == f"Ugz{SMALL}t0001" and df.loc["reply 1.6", "reply_count"] == 0
    assert set(df["channel_id"]) == {CH} and set(df["author_channel_id"]) == {"UCauthor0000000000000000"}


def test_a_long_reply_chain_is_paged(collect_cli, out):
    with FakeYouTube(videos=[small_video(SMALL, CH, 1, {0: 130})]) as fake:
        res = collect_cli(fake, "--videos", SMALL, "--out", out)
        assert fake.count("comments") == 2 and fake.units == 4  # 100 + 30 replies
    assert res.code == 0 and len(rows_of(out)) == 131


# ---- incremental ---------------------------------------------------------------------------------------------------

def test_rerun_appends_only_what_is_new(collect_cli, out):
    video = fixture_video()
    with FakeYouTube(videos=[video]) as fake:
        assert collect_cli(fake, "--videos", video.video_id, "--out", out).code == 0
        first = set(rows_of(out)["comment_id"])
        newest = max(video.threads, key=lambda t: video.threads[t]["snippet"]["publishedAt"])
        added = {video.add_thread("a brand new comment", datetime(2025, 6, 1, tzinfo=UTC)),
                 video.add_reply(newest, "a new reply to the newest thread", datetime(2025, 6, 2, tzinfo=UTC))}
        before = len(fake.calls)
        res = collect_cli(fake, "--videos", video.video_id, "--out", out)
        second_run = fake.calls[before:]
    assert res.code == 0, res.err
    df = rows_of(out)
    assert len(df) == 889 + 2 and df["comment_id"].is_unique
    assert set(df["comment_id"]) - first == added
    # the new rows are a part file of their own; the first one is untouched
    files = parts(out, video.video_id)
    assert len(files) == 2 and sorted(len(pq.read_table(f)) for f in files) == [2, 889]
    # one thread page (stopped at the newest stored thread), not the six of a full pass
    assert [e for e, _ in second_run] == ["videos", "commentThreads"]
    assert "quota used: 2 units" in res.out and "     2      891  ok" in res.out


def test_rerun_with_nothing_new_writes_nothing(collect_cli, out):
    with FakeYouTube(videos=[small_video(SMALL, CH, 3)]) as fake:
        collect_cli(fake, "--videos", SMALL, "--out", out)
        res = collect_cli(fake, "--videos", SMALL, "--out", out)
    assert res.code == 0 and "0 new rows" in res.out
    assert len(parts(out, SMALL)) == 1 and len(rows_of(out)) == 3


def test_since_keeps_newer_comments_and_stops_paging(collect_cli, out):
    with FakeYouTube(videos=[small_video(BIG, CH, 250)]) as fake:
        res = collect_cli(fake, "--videos", BIG, "--since", "2024-05-10", "--out", out)
        # thread i is at 2024-05-01 + i hours: 2024-05-10 is i = 216, so 216..249 (34), all on the first page
        assert fake.count("commentThreads") == 1
    assert res.code == 0
    assert sorted(rows_of(out)["text"]) == sorted(f"comment {i}" for i in range(216, 250))


def test_cap_takes_the_newest_then_the_next_run_continues(collect_cli, out):
    replies = {f"reply 249.{j}" for j in range(8)}
    with FakeYouTube(videos=[small_video(BIG, CH, 250, {249: 8})]) as fake:
        res = collect_cli(fake, "--videos", BIG, "--max-per-video", "25", "--out", out)
        assert res.code == 0 and "capped (incomplete: the next run continues)" in res.out
        # newest first: comment 249 and its 8 replies, then comments 248..233
        assert set(rows_of(out)["text"]) == {f"comment {i}" for i in range(233, 250)} | replies
        res = collect_cli(fake, "--videos", BIG, "--max-per-video", "25", "--out", out)
        # the chain of 249 is stored whole (8 of 8): it is not fetched again when the page is read again
        assert fake.count("comments") == 1
    assert res.code == 0
    df = rows_of(out)
    assert set(df["text"]) == {f"comment {i}" for i in range(208, 250)} | replies and df["comment_id"].is_unique


# ---- quota ---------------------------------------------------------------------------------------------------------

def test_quota_stop_keeps_what_was_fetched_and_the_next_run_completes(collect_cli, out):
    with FakeYouTube(videos=[small_video(BIG, CH, 250), small_video(OTHER, CH, 5)], quota=3) as fake:
        # videos.list (1), thread pages 1 and 2 (2, 3), page 3 → 403 quotaExceeded
        res = collect_cli(fake, "--videos", BIG, OTHER, "--out", out)
        assert res.code == 2
        assert "STOPPED" in res.out and "quota" in res.out and "kept: 200 new rows" in res.out
        assert "quota used: 4 units (commentThreads.list 3, videos.list 1)" in res.out and fake.units == 4
        assert "collect stopped" in res.err
        assert set(rows_of(out)["text"]) == {f"comment {i}" for i in range(50, 250)}
        assert not parts(out, OTHER)

        fake.quota = None  # the quota resets
        res = collect_cli(fake, "--videos", BIG, OTHER, "--out", out)
    assert res.code == 0, res.out
    df = rows_of(out)
    assert len(df) == 255 and df["comment_id"].is_unique
    assert set(df[df["video_id"] == BIG]["text"]) == {f"comment {i}" for i in range(250)}


# ---- retries -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reason,status", [("backendError", None), ("internalError", None),
                                           ("rateLimitExceeded", None), ("rateLimitExceeded", 403),
                                           ("userRateLimitExceeded", None)])
def test_a_transient_error_is_retried_then_succeeds(collect_cli, out, reason, status):
    with FakeYouTube(videos=[small_video(SMALL, CH, 3)]) as fake:
        fake.fail("commentThreads", reason, times=1, status=status)
        res = collect_cli(fake, "--videos", SMALL, "--out", out)
        assert fake.count("commentThreads") == 2 and fake.units == 3
    assert res.code == 0, res.err
    assert len(rows_of(out)) == 3 and "retry 1/5" in res.err
    assert "quota used: 3 units (commentThreads.list 2, videos.list 1)" in res.out


def test_retry_after_is_honoured_in_seconds_and_as_a_date():
    with FakeYouTube(videos=[small_video(SMALL, CH, 3)]) as fake:
        fake.fail("commentThreads", "rateLimitExceeded", times=1, retry_after="2")
        when = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
        fake.fail("videos", "backendError", times=1, retry_after=when)
        client, sleeps = recording_client(fake)
        client.get("videos", part="snippet", id=SMALL)
        client.get("commentThreads", part="snippet", videoId=SMALL)
    assert 1.0 <= sleeps[0] <= 3.0 and sleeps[1] == 2.0 and len(sleeps) == 2


def test_backoff_is_jittered_exponential_and_bounded(tmp_path):
    with FakeYouTube(videos=[small_video(SMALL, CH, 3)]) as fake:
        fake.fail("commentThreads", "backendError", times=None)
        client, sleeps = recording_client(fake, max_retries=3)
        result = collect(client, tmp_path, videos=[SMALL])
        assert fake.count("commentThreads") == 4  # 1 + 3 retries, then give up
    assert 0.005 <= sleeps[0] <= 0.01 and 0.01 <= sleeps[1] <= 0.02 and 0.02 <= sleeps[2] <= 0.04
    assert len(sleeps) == 3
    assert "still failing after 4 attempts" in result.stopped and result.videos[0].status == "stopped"


def test_retry_after_beyond_max_wait_gives_up_at_once(tmp_path):
    with FakeYouTube(videos=[small_video(SMALL, CH, 3)]) as fake:
        fake.fail("commentThreads", "rateLimitExceeded", times=None, retry_after="3600")
        client, sleeps = recording_client(fake)
        result = collect(client, tmp_path, videos=[SMALL])
    assert sleeps == [] and "asked to retry after 3600 s" in result.stopped


# ---- per-video problems and fatal ones -----------------------------------------------------------------------------

def test_per_video_problems_do_not_stop_the_others(collect_cli, out):
    videos = [small_video(SMALL, CH, 3), FakeVideo("disabledVid", CH, comments_disabled=True),
              small_video("deletedVid0", CH, 2), small_video("privateVid0", CH, 2), small_video(OTHER, CH, 4)]
    with FakeYouTube(videos=videos) as fake:
        fake.fail("commentThreads", "videoNotFound", video_id="deletedVid0", times=None)  # gone since videos.list
        fake.fail("commentThreads", "forbidden", video_id="privateVid0", times=None)
        res = collect_cli(fake, "--videos", SMALL, "disabledVid", "missingVid0", "deletedVid0", "privateVid0", OTHER,
                          "--out", out)
        assert fake.units == 1 + 5  # missingVid0 is known absent from videos.list: no thread request for it
    assert res.code == 0, res.err
    df = rows_of(out)
    assert df.groupby("video_id").size().to_dict() == {SMALL: 3, OTHER: 4}
    lines = {line.split()[0]: line for line in res.out.splitlines()}
    assert lines["disabledVid"].endswith("comments are disabled")
    assert lines["missingVid0"].endswith("video not found (deleted, private or a wrong id)")
    assert lines["deletedVid0"].endswith("video not found (deleted, private or a wrong id)")
    assert lines["privateVid0"].endswith("comments not accessible (403 forbidden)")
    assert lines[OTHER].endswith("ok")


def test_exit_2_when_no_video_could_be_collected(collect_cli, out):
    with FakeYouTube(videos=[FakeVideo("disabledVid", CH, comments_disabled=True)]) as fake:
        res = collect_cli(fake, "--videos", "disabledVid", "missingVid0", "--out", out)
    assert res.code == 2 and "no video could be collected" in res.err


def test_a_wrong_key_stops_everything_at_once(collect_cli, out):
    with FakeYouTube(videos=[small_video(SMALL, CH, 3)]) as fake:
        res = collect_cli({**fake.env(), "YOUTUBE_API_KEY": "not-the-key"}, "--videos", SMALL, OTHER, "--out", out)
        assert [e for e, _ in fake.calls] == ["videos"]  # not retried, nothing else tried
    assert res.code == 2 and "the API key was rejected" in res.err and "API_KEY_INVALID" in res.err
    assert not out.exists() or not any(out.rglob("*.parquet"))
    assert "not-the-key" not in res.out + res.err


def test_forbidden_at_the_first_call_is_a_key_problem(collect_cli, out):
    with FakeYouTube(videos=[small_video(SMALL, CH, 3)]) as fake:
        fake.fail("videos", "forbidden")
        res = collect_cli(fake, "--videos", SMALL, "--out", out)
    assert res.code == 2 and "the API key was rejected (HTTP 403 forbidden" in res.err


def test_a_key_rejected_mid_run_keeps_what_was_fetched(collect_cli, out):
    with FakeYouTube(videos=[small_video(SMALL, CH, 3), small_video(OTHER, CH, 4)]) as fake:
        fake.fail("commentThreads", "keyInvalid", video_id=OTHER)
        res = collect_cli(fake, "--videos", SMALL, OTHER, "--out", out)
    assert res.code == 2 and "STOPPED" in res.out and "kept: 3 new rows" in res.out
    assert len(rows_of(out)) == 3


def test_missing_key_is_a_clear_error(collect_cli, out):
    with FakeYouTube(videos=[small_video(SMALL, CH, 3)]) as fake:
        env = {k: v for k, v in fake.env().items() if k != "YOUTUBE_API_KEY"}
        res = collect_cli(env, "--videos", SMALL, "--out", out)
        assert fake.calls == []
    assert res.code == 2 and "YOUTUBE_API_KEY is not set" in res.err


def test_an_unreachable_api_stops_without_leaking_the_key(collect_cli, out):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    key = "secret-key-123"  # pragma: allowlist secret
    env = {"YOUTUBE_API_KEY": key, "YOUTUBE_API_BASE_URL": f"http://127.0.0.1:{port}/youtube/v3",
           "YOUTUBE_BACKOFF_BASE": "0.001", "YOUTUBE_MAX_RETRIES": "2"}
    res = collect_cli(env, "--videos", SMALL, "--out", out)
    assert res.code == 2 and "still failing after 3 attempts" in res.err and "ConnectionError" in res.err
    assert "secret-key-123" not in res.out + res.err and "key=***" in res.err


# ---- inputs --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv,message", [
    (["--videos", "abc"], "not a YouTube video id or URL"),
    (["--videos", SMALL, "https://vimeo.com/123456789"], "not a YouTube video id or URL"),
    (["--videos", "https://www.youtube.com/watch?v=short"], "not a YouTube video id or URL"),
    (["--videos", "https://www.youtube.com/playlist?list=PL123"], "not a YouTube video id or URL"),
    (["--videos", SMALL, "--since", "2024-13-01"], "--since '2024-13-01' is not a date"),
    (["--videos", SMALL, "--since", "yesterday"], "is not a date: use YYYY-MM-DD"),
    (["--videos", SMALL, "--since", "2999-01-01"], "is in the future"),
    (["--videos", SMALL, "--max-per-video", "0"], "--max-per-video must be a positive number (got 0)"),
    (["--videos", SMALL, "--max-per-video", "-5"], "--max-per-video must be a positive number (got -5)"),
    (["--channel", "notachannel"], "not a YouTube channel"),
    (["--channel", "@x"], "not a YouTube channel"),
    (["--channel", "UC123"], "not a YouTube channel"),
    (["--channel", "@fakechannel", "--max-videos", "0"], "--max-videos must be a positive number"),
])
def test_bad_inputs_are_refused_before_any_request(collect_cli, out, argv, message):
    with FakeYouTube() as fake:
        res = collect_cli(fake, *argv, "--out", out)
        assert fake.calls == []
    assert res.code == 2 and message in res.err


@pytest.mark.parametrize("argv", [["--videos", SMALL, "--channel", "@fakechannel"], [],
                                  ["--videos", SMALL, "--max-per-video", "ten"]])
def test_malformed_command_lines_exit_2(collect_cli, out, argv):
    with pytest.raises(SystemExit) as exc:
        collect_cli({}, *argv, "--out", out)
    assert exc.value.code == 2


@pytest.mark.parametrize("ref", [
    "dQw4w9WgXcQ", "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s", "youtube.com/watch?v=dQw4w9WgXcQ",
    "https://youtu.be/dQw4w9WgXcQ?si=abc", "https://m.youtube.com/watch?feature=share&v=dQw4w9WgXcQ",
    "https://www.youtube.com/shorts/dQw4w9WgXcQ", "https://www.youtube.com/embed/dQw4w9WgXcQ",
    "https://www.youtube.com/live/dQw4w9WgXcQ?feature=share", " dQw4w9WgXcQ ",
])
def test_video_references(ref):
    assert parse_video(ref) == "dQw4w9WgXcQ"


@pytest.mark.parametrize("ref,expected", [
    ("UC" + "b" * 22, ("id", "UC" + "b" * 22)), ("@fakechannel", ("handle", "@fakechannel")),
    ("https://www.youtube.com/@fake.channel-1/videos", ("handle", "@fake.channel-1")),
    ("https://www.youtube.com/channel/UC" + "b" * 22, ("id", "UC" + "b" * 22)),
])
def test_channel_references(ref, expected):
    assert parse_channel(ref) == expected


# ---- channels ------------------------------------------------------------------------------------------------------

def channel_fake(**kw) -> FakeYouTube:
    ch = "UC" + "b" * 22
    videos = [small_video(OTHER, ch, 4), FakeVideo("disabledVid", ch, comments_disabled=True),
              small_video(SMALL, ch, 3)]
    return FakeYouTube(videos=videos, channels=[FakeChannel(ch, "@fakechannel", [OTHER, "disabledVid", SMALL])],
                       **kw)


def test_channel_by_handle_takes_the_newest_uploads(collect_cli, out):
    with channel_fake() as fake:
        res = collect_cli(fake, "--channel", "@FakeChannel", "--max-videos", "2", "--out", out)
        assert [e for e, _ in fake.calls] == ["channels", "playlistItems", "videos", "commentThreads",
                                              "commentThreads"]
        assert fake.count("channels", forHandle="@FakeChannel") == 1 and fake.units == 5
    assert res.code == 0, res.err
    assert rows_of(out).groupby("video_id").size().to_dict() == {OTHER: 4}
    assert "disabledVid" in res.out and "quota used: 5 units" in res.out and "search" not in res.out


def test_channel_by_url_and_playlist_paging(collect_cli, out):
    with channel_fake() as fake:
        fake.channels[0].video_ids += [f"gone{i:07d}" for i in range(60)]  # 63 uploads: 2 playlist pages of 50
        res = collect_cli(fake, "--channel", "https://www.youtube.com/channel/UC" + "b" * 22, "--max-videos", "55",
                          "--out", out)
        assert fake.count("playlistItems") == 2 and fake.count("videos") == 2  # 50 ids per videos.list
    assert res.code == 0
    assert rows_of(out).groupby("video_id").size().to_dict() == {OTHER: 4, SMALL: 3}


def test_unknown_channel_is_a_clear_error(collect_cli, out):
    with channel_fake() as fake:
        res = collect_cli(fake, "--channel", "@nobodyhere", "--out", out)
        assert fake.units == 1
    assert res.code == 2 and "channel @nobodyhere not found" in res.err


# ---- atomic writes -------------------------------------------------------------------------------------------------

def test_a_crash_while_writing_leaves_no_half_file(monkeypatch, tmp_path):
    video = small_video(SMALL, CH, 3)
    with FakeYouTube(videos=[video]) as fake:
        client, _ = recording_client(fake)
        collect(client, tmp_path, videos=[SMALL])
        video.add_thread("new one", datetime(2025, 1, 1, tzinfo=UTC))

        def crash(table, where, **kw):
            Path(where).write_bytes(b"PAR1 half a file")
            raise OSError("disk full")

        monkeypatch.setattr(pq, "write_table", crash)
        with pytest.raises(OSError, match="disk full"):
            collect(client, tmp_path, videos=[SMALL])
        monkeypatch.undo()
        folder = tmp_path / f"video_id={SMALL}"
        assert [p.name for p in folder.iterdir()] == [parts(tmp_path, SMALL)[0].name]  # no temp file either
        assert len(rows_of(tmp_path)) == 3
        collect(client, tmp_path, videos=[SMALL])
    assert len(rows_of(tmp_path)) == 4


def test_long_videos_are_written_in_several_parts(tmp_path):
    with FakeYouTube(videos=[small_video(BIG, CH, 250)]) as fake:
        client, _ = recording_client(fake)
        result = collect(client, tmp_path, videos=[BIG], flush_rows=100)
    assert result.new_rows == 250
    assert sorted(len(pq.read_table(p)) for p in parts(tmp_path, BIG)) == [50, 100, 100]  # one per thread page


def test_an_unexpected_api_error_stops_with_the_summary(collect_cli, out):
    with FakeYouTube(videos=[small_video(SMALL, CH, 3), small_video(OTHER, CH, 4)]) as fake:
        fake.fail("commentThreads", "missingRequiredParameter", video_id=OTHER)
        res = collect_cli(fake, "--videos", SMALL, OTHER, "--out", out)
    assert res.code == 2 and "HTTP 400 missingRequiredParameter" in res.out and "kept: 3 new rows" in res.out


# ---- the CLI contract (what the Airflow DAG runs) ------------------------------------------------------------------

def test_cli_in_a_subprocess_writes_the_summary_json(tmp_path):
    with FakeYouTube(videos=[small_video(SMALL, CH, 3, {0: 6})]) as fake:
        env = {**os.environ, **fake.env()}
        proc = subprocess.run([sys.executable, "-m", "ytsentiment.cli", "collect", "--videos", SMALL,
                               "--out", str(tmp_path / "out"), "--summary-json", str(tmp_path / "s.json")],
                              env=env, capture_output=True, text=True, timeout=60, cwd=REPO)
        units = fake.units
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["new_rows"] == 9 and summary["quota_units"] == units == 3 and summary["stopped"] is None
    assert summary["quota_by_endpoint"] == {"commentThreads.list": 1, "comments.list": 1, "videos.list": 1}
    assert [(v["video_id"], v["status"], v["new_rows"], v["complete"]) for v in summary["videos"]] == [
        (SMALL, "ok", 9, True)]
    assert "quota used: 3 units" in proc.stdout
    assert "video/s" not in proc.stderr and "videos:" not in proc.stderr  # no progress bar when not a TTY
    assert fake.api_key not in proc.stdout + proc.stderr
