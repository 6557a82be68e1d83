"""The tests' YouTube Data API v3: the package's stand-in server under the names the tests use, plus test data.

The server is ``ytsentiment.demo.youtube_standin`` (one implementation for these tests, the DAG tests and
``ytsentiment demo``); see its docstring for the endpoints, error shapes and controls (``fail``, ``quota``,
``calls``, ``units``). This module adds the data only tests need:

    with FakeYouTube(videos=[fixture_video(), small_video("vid00000001", "UC" + "a" * 22, 3)]) as fake:
        env = fake.env()          # YOUTUBE_API_BASE_URL, YOUTUBE_API_KEY, YOUTUBE_BACKOFF_BASE (fast retries)
        ...                       # run `ytsentiment collect` (or anything using requests) against fake.base_url
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ytsentiment.demo.youtube_standin import Channel as FakeChannel
from ytsentiment.demo.youtube_standin import Video as FakeVideo
from ytsentiment.demo.youtube_standin import YouTubeStandin as FakeYouTube

FIXTURES = Path(__file__).resolve().parents[1] / "extension" / "fixtures"
__all__ = ["FIXTURES", "FakeChannel", "FakeVideo", "FakeYouTube", "fixture_video", "small_video"]


def small_video(video_id: str, channel_id: str, threads: int, replies: dict[int, int] | None = None,
                start: datetime = datetime(2024, 5, 1, tzinfo=UTC), step: timedelta = timedelta(hours=1)) -> FakeVideo:
    """``threads`` comments an hour apart from ``start`` (thread i at start + i·step); thread i gets ``replies[i]``
    replies, a minute apart after it. Texts say which comment they are: "comment i", "reply i.j"."""
    video = FakeVideo(video_id, channel_id, title=f"video {video_id}")
    for i in range(threads):
        when = start + i * step
        thread_id = video.add_thread(f"comment {i}", when, likes=i, thread_id=f"Ugz{video_id}t{i:04d}")
        for j in range((replies or {}).get(i, 0)):
            video.add_reply(thread_id, f"reply {i}.{j}", when + timedelta(minutes=j + 1),
                            reply_id=f"{thread_id}.r{j:03d}")
    return video


def fixture_video() -> FakeVideo:
    """The extension tests' real-shaped video (Xk7pQ2mN9aB: 537 threads, 352 replies, two chains longer than 5,
    about half the comments without textOriginal) from tests/extension/fixtures."""
    index = json.loads((FIXTURES / "index.json").read_text(encoding="utf-8"))
    first = json.loads((FIXTURES / index["pages"][0]["file"]).read_text(encoding="utf-8"))["items"][0]
    video = FakeVideo(index["videoId"], first["snippet"]["channelId"], title="fixture video")
    chains = {tid: json.loads((FIXTURES / name).read_text(encoding="utf-8"))["items"]
              for tid, name in index["replies"].items()}
    for page in index["pages"]:
        for item in json.loads((FIXTURES / page["file"]).read_text(encoding="utf-8"))["items"]:
            video.threads[item["id"]] = item["snippet"]["topLevelComment"]
            video.replies[item["id"]] = chains.get(item["id"]) or (item.get("replies") or {}).get("comments", [])
    return video
