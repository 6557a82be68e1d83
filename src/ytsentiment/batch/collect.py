"""`ytsentiment collect`: YouTube comments (and replies) of videos or a channel into incremental Parquet.

Inputs: video ids or URLs, or one channel (``UC…`` id, ``@handle`` or its URL: channels.list → uploads playlist →
playlistItems.list, newest ``--max-videos`` uploads); ``--since YYYY-MM-DD`` (UTC; older comments are not
collected); ``--max-per-video N`` (at most N new rows per video per run). The key comes from ``YOUTUBE_API_KEY``;
the API from ``YOUTUBE_API_BASE_URL`` (see ``batch/youtube.py`` for retries and quota).

Output, one row per comment or reply, Hive-partitioned by video::

    OUT/video_id=<id>/part-<sha256 of the rows' comment ids, 16 hex>.parquet    (one file per run and video)
    OUT/_state/<id>.json                                                        (how far the video is collected)

Columns (``SCHEMA``): comment_id, parent_id (null for a top-level comment), channel_id (the video's channel), text
(``textOriginal``; the unescaped plain-text ``textDisplay`` when the API omits it), published_at, updated_at (UTC),
like_count, reply_count (``totalReplyCount``; 0 for replies), author_channel_id, collected_at. ``video_id`` is the
partition directory (not repeated in the files): ``pd.read_parquet(OUT)``/``spark.read.parquet(OUT)`` or
:func:`read_comments` give it back as a column. ``_``- and ``.``-prefixed paths are ignored by those readers.

Incremental: threads are listed newest first (``order=time``); rows whose comment id is stored are skipped. Once a
run has paged a video to its end (or to ``--since``), the video is *complete* and later runs stop paging at the
first thread older than the newest stored one. A run cut short (cap, quota, API failure) leaves it incomplete, so
the next run pages through the stored threads again (1 unit per 100 threads) to carry on below them. Replies are
re-fetched for a listed thread only when its ``totalReplyCount`` exceeds the replies stored for it.
Limits: stored rows are never rewritten (edits and like counts are as first seen), and new replies to threads
older than the newest stored thread of a complete video are not seen (the API offers no cheap way to find them).

Files are written atomically (a ``.``-prefixed temporary file renamed into place), every ``flush_rows`` rows and at
the end of each video, including when the run stops on a spent quota: what was fetched is kept.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from ytsentiment import YtSentimentError
from ytsentiment.batch.youtube import ApiError, ClientSettings, KeyRejected, Quota, VideoProblem, YouTubeClient
from ytsentiment.io import atomic_write, write_json

log = logging.getLogger(__name__)

VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
CHANNEL_ID = re.compile(r"UC[A-Za-z0-9_-]{22}")
HANDLE = re.compile(r"@[\w.·-]{3,30}")
YOUTUBE_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtu.be",
                 "www.youtube-nocookie.com", "youtube-nocookie.com"}
PAGE_SIZE = 100  # the API's maximum for commentThreads and comments
COLUMNS = ("comment_id", "parent_id", "channel_id", "text", "published_at", "updated_at", "like_count",
           "reply_count", "author_channel_id", "collected_at")
STATE_DIR = "_state"


def schema():
    """The Parquet schema of every part file (pyarrow, imported here so the CLI stays cheap to import)."""
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    return pa.schema([
        ("comment_id", pa.string()), ("parent_id", pa.string()), ("channel_id", pa.string()), ("text", pa.string()),
        ("published_at", ts), ("updated_at", ts), ("like_count", pa.int64()), ("reply_count", pa.int64()),
        ("author_channel_id", pa.string()), ("collected_at", ts),
    ])


# ---- inputs --------------------------------------------------------------------------------------------------------

def _url(ref: str):
    text = ref if "://" in ref else f"https://{ref}"
    parsed = urlparse(text)
    return parsed if (parsed.hostname or "").lower() in YOUTUBE_HOSTS else None


def parse_video(ref: str) -> str:
    """A video id from an 11-character id or a YouTube URL (watch, youtu.be, shorts, embed, live)."""
    ref = ref.strip()
    if VIDEO_ID.fullmatch(ref):
        return ref
    parsed = _url(ref) if "youtu" in ref else None
    candidate = None
    if parsed is not None:
        parts = [p for p in parsed.path.split("/") if p]
        if parsed.hostname.lower() == "youtu.be" and parts:
            candidate = parts[0]
        elif parts[:1] == ["watch"]:
            candidate = (parse_qs(parsed.query).get("v") or [None])[0]
        elif len(parts) >= 2 and parts[0] in ("shorts", "embed", "live", "v"):
            candidate = parts[1]
    if candidate and VIDEO_ID.fullmatch(candidate):
        return candidate
    raise YtSentimentError(f"not a YouTube video id or URL: {ref!r} (expected 11 characters such as dQw4w9WgXcQ, "
                           "or https://www.youtube.com/watch?v=…, https://youtu.be/…, …/shorts/…)")


def parse_channel(ref: str) -> tuple[str, str]:
    """("id", UC…) or ("handle", @…) from a channel id, a handle or a channel URL."""
    ref = ref.strip()
    parsed = _url(ref) if "youtu" in ref else None
    if parsed is not None:
        parts = [p for p in parsed.path.split("/") if p]
        ref = parts[1] if parts[:1] == ["channel"] and len(parts) > 1 else (parts[0] if parts else "")
    if CHANNEL_ID.fullmatch(ref):
        return "id", ref
    if HANDLE.fullmatch(ref):
        return "handle", ref
    raise YtSentimentError(f"not a YouTube channel: {ref!r} (expected a channel id UC + 22 characters, an @handle, "
                           "or https://www.youtube.com/@handle)")


def parse_since(text: str | None, today: date | None = None) -> datetime | None:
    """``YYYY-MM-DD`` → midnight UTC of that day; None when not given."""
    if text is None:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            raise ValueError("not YYYY-MM-DD")
        day = date.fromisoformat(text.strip())
    except ValueError as exc:
        raise YtSentimentError(f"--since {text!r} is not a date: use YYYY-MM-DD, e.g. 2024-06-01 ({exc})") from exc
    if day > (today or datetime.now(UTC).date()):
        raise YtSentimentError(f"--since {text} is in the future: no comment could be that recent")
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def check_positive(name: str, value: int | None) -> int | None:
    if value is not None and value <= 0:
        raise YtSentimentError(f"{name} must be a positive number (got {value}); leave it out for no limit")
    return value


def validate(videos: list[str] | None, channel: str | None, since: str | None, max_per_video: int | None,
             max_videos: int | None) -> tuple[list[str], datetime | None]:
    """Check every input before any request: (video ids, deduplicated in order; --since as a UTC datetime)."""
    if bool(videos) == bool(channel):
        raise YtSentimentError("give either --videos (ids or URLs) or --channel (UC… id or @handle), not both")
    video_ids = list(dict.fromkeys(parse_video(v) for v in videos)) if videos else []
    if channel:
        parse_channel(channel)
    since_at = parse_since(since)
    check_positive("--max-per-video", max_per_video)
    check_positive("--max-videos", max_videos)
    return video_ids, since_at


# ---- results -------------------------------------------------------------------------------------------------------

@dataclass
class VideoResult:
    video_id: str
    channel_id: str | None = None
    title: str | None = None
    new_rows: int = 0
    stored_rows: int = 0
    status: str = "pending"  # ok | capped | stopped | the per-video problem
    complete: bool = False

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "capped")


@dataclass
class CollectResult:
    out: Path
    videos: list[VideoResult] = field(default_factory=list)
    quota: Quota = field(default_factory=Quota)
    stopped: str | None = None  # why the run stopped early (quota, key, API down); what was fetched is kept

    @property
    def new_rows(self) -> int:
        return sum(v.new_rows for v in self.videos)

    def to_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "new_rows": self.new_rows, "stopped": self.stopped,
                "quota_units": self.quota.units(), "quota_by_endpoint": self.quota.by_endpoint(),
                "videos": [asdict(v) for v in self.videos]}


# ---- storage -------------------------------------------------------------------------------------------------------

class Store:
    """The Parquet partitions and per-video state under ``out``."""

    def __init__(self, out: str | Path):
        self.out = Path(out)

    def video_dir(self, video_id: str) -> Path:
        return self.out / f"video_id={video_id}"

    def state_path(self, video_id: str) -> Path:
        return self.out / STATE_DIR / f"{video_id}.json"

    def state(self, video_id: str) -> dict:
        path = self.state_path(video_id)
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def save_state(self, video_id: str, state: dict) -> None:
        write_json(self.state_path(video_id), state)

    def stored(self, video_id: str) -> tuple[set[str], Counter, datetime | None]:
        """(stored comment ids, stored replies per thread, newest stored top-level publishedAt)."""
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        folder = self.video_dir(video_id)
        if not any(folder.glob("part-*.parquet")):
            return set(), Counter(), None
        table = pq.read_table(folder, columns=["comment_id", "parent_id", "published_at"])
        ids = set(table.column("comment_id").to_pylist())
        replies = Counter(p for p in table.column("parent_id").to_pylist() if p is not None)
        top = table.filter(pc.is_null(table.column("parent_id")))
        newest = pc.max(top.column("published_at")).as_py() if top.num_rows else None
        return ids, replies, newest

    def write(self, video_id: str, rows: list[dict]) -> Path | None:
        """One part file holding ``rows``, written atomically; named by its content, so a retry cannot duplicate."""
        if not rows:
            return None
        import pyarrow as pa
        import pyarrow.parquet as pq

        digest = hashlib.sha256("\n".join(sorted(r["comment_id"] for r in rows)).encode()).hexdigest()[:16]
        path = self.video_dir(video_id) / f"part-{digest}.parquet"
        table = pa.Table.from_pylist(rows, schema=schema())
        with atomic_write(path) as tmp:
            pq.write_table(table, tmp)
        log.info("%s: wrote %d rows to %s", video_id, len(rows), path)
        return path


def read_comments(out: str | Path, columns: list[str] | None = None):
    """Every collected row under ``out`` as a DataFrame with ``video_id`` as a plain string column."""
    import pandas as pd

    df = pd.read_parquet(out, columns=columns)
    if "video_id" in df.columns:
        df["video_id"] = df["video_id"].astype(str)
    return df


# ---- API walks -----------------------------------------------------------------------------------------------------

def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def comment_row(comment: dict, reply_count: int, collected_at: datetime) -> dict:
    s = comment["snippet"]
    text = s.get("textOriginal")
    if text is None:  # textFormat=plainText: textDisplay is the text with HTML entities escaped
        text = html.unescape(s.get("textDisplay", ""))
    return {
        "comment_id": comment["id"], "parent_id": s.get("parentId"), "channel_id": s.get("channelId"),
        "text": text, "published_at": _time(s["publishedAt"]), "updated_at": _time(s.get("updatedAt") or
                                                                                    s["publishedAt"]),
        "like_count": int(s.get("likeCount", 0)), "reply_count": reply_count,
        "author_channel_id": (s.get("authorChannelId") or {}).get("value"), "collected_at": collected_at,
    }


def resolve_channel(client: YouTubeClient, ref: str, max_videos: int) -> tuple[str, list[str]]:
    """(channel id, its newest ``max_videos`` upload ids) via channels.list (1 unit) + playlistItems.list pages."""
    kind, value = parse_channel(ref)
    params = {"forHandle": value} if kind == "handle" else {"id": value}
    items = client.get("channels", part="contentDetails", **params).get("items") or []
    if not items:
        raise YtSentimentError(f"channel {ref} not found: check the id or @handle")
    channel_id = items[0]["id"]
    uploads = items[0]["contentDetails"]["relatedPlaylists"]["uploads"]
    videos: list[str] = []
    token = None
    while len(videos) < max_videos:
        try:
            page = client.get("playlistItems", part="contentDetails", playlistId=uploads,
                              maxResults=min(50, max_videos - len(videos)), pageToken=token)
        except VideoProblem:  # playlistNotFound: a channel without uploads
            break
        videos += [i["contentDetails"]["videoId"] for i in page.get("items", [])]
        token = page.get("nextPageToken")
        if not token:
            break
    return channel_id, videos[:max_videos]


def video_metadata(client: YouTubeClient, video_ids: list[str]) -> dict[str, dict]:
    """videos.list (1 unit per 50 ids): id → snippet, for the videos that exist."""
    found: dict[str, dict] = {}
    for start in range(0, len(video_ids), 50):
        chunk = video_ids[start:start + 50]
        for item in client.get("videos", part="snippet", id=",".join(chunk)).get("items", []):
            found[item["id"]] = item["snippet"]
    return found


class _VideoRun:
    """Collect one video: page threads newest first, add unseen rows, fetch long reply chains, honour the cap."""

    def __init__(self, client: YouTubeClient, store: Store, result: VideoResult, since: datetime | None,
                 cap: int | None, flush_rows: int, collected_at: datetime):
        self.client, self.store, self.result = client, store, result
        self.since, self.cap, self.flush_rows, self.collected_at = since, cap, flush_rows, collected_at
        self.buffer: list[dict] = []
        self.ids, self.replies, self.newest = store.stored(result.video_id)
        self.result.stored_rows = len(self.ids)

    def flush(self) -> None:
        self.store.write(self.result.video_id, self.buffer)
        self.buffer = []

    def add(self, comment: dict, reply_count: int) -> bool:
        """Add a comment unless it is stored; False once the cap is reached (replies are never older than their
        thread, so --since is checked on threads only)."""
        if self.cap is not None and self.result.new_rows >= self.cap:
            return False
        if comment["id"] in self.ids:
            return True
        row = comment_row(comment, reply_count, self.collected_at)
        self.buffer.append(row)
        self.ids.add(row["comment_id"])
        if row["parent_id"]:
            self.replies[row["parent_id"]] += 1
        self.result.new_rows += 1
        self.result.stored_rows += 1
        return True

    def thread_replies(self, thread: dict) -> list[dict]:
        total = thread["snippet"].get("totalReplyCount", 0)
        included = (thread.get("replies") or {}).get("comments", [])
        if total <= self.replies[thread["id"]]:
            return []  # nothing new to see (as far as the count tells)
        if total <= len(included):
            return included
        replies, token = [], None
        while True:
            page = self.client.get("comments", part="snippet", parentId=thread["id"], maxResults=PAGE_SIZE,
                                   textFormat="plainText", pageToken=token)
            replies += page.get("items", [])
            token = page.get("nextPageToken")
            if not token:
                return replies

    def run(self) -> None:
        state = self.store.state(self.result.video_id)
        covered = state.get("complete") and (state.get("since") is None or (
            self.since is not None and self.since.date().isoformat() >= state["since"]))
        watermark = self.newest if covered else None
        stopped_at_watermark, token = False, None
        try:
            while True:
                page = self.client.get("commentThreads", part="snippet,replies", videoId=self.result.video_id,
                                       maxResults=PAGE_SIZE, order="time", textFormat="plainText", pageToken=token)
                done = False
                for thread in page.get("items", []):
                    top = thread["snippet"]["topLevelComment"]
                    published = _time(top["snippet"]["publishedAt"])
                    if self.since is not None and published < self.since:
                        done = True
                        break
                    if watermark is not None and published < watermark:
                        done = stopped_at_watermark = True
                        break
                    if not self.add(top, thread["snippet"].get("totalReplyCount", 0)):
                        break
                    if not all(self.add(reply, 0) for reply in self.thread_replies(thread)):
                        break
                if self.cap is not None and self.result.new_rows >= self.cap:
                    self.result.status = "capped"
                    return
                if len(self.buffer) >= self.flush_rows:
                    self.flush()
                token = page.get("nextPageToken")
                if done or not token:
                    break
            self.result.status, self.result.complete = "ok", True
        finally:
            self.flush()
            since = state.get("since") if stopped_at_watermark else (
                self.since.date().isoformat() if self.since else None)
            self.store.save_state(self.result.video_id, {
                "video_id": self.result.video_id, "channel_id": self.result.channel_id,
                "complete": self.result.complete, "since": since if self.result.complete else None,
                "updated_at": self.collected_at.isoformat(timespec="seconds")})


def collect(client: YouTubeClient, out: str | Path, *, videos: list[str] | None = None, channel: str | None = None,
            since: str | None = None, max_per_video: int | None = None, max_videos: int = 50,
            flush_rows: int = 5000, progress: bool = False) -> CollectResult:
    """Collect the comments of ``videos`` (ids/URLs) or of ``channel``'s newest uploads into ``out``.

    Raises YtSentimentError for bad inputs or an unknown channel. A spent quota, a rejected key, an API that stays
    down or an unexpected API error stop the run: what was fetched is written and ``result.stopped`` says why.
    Per-video problems (comments disabled, video not found or not accessible) are in each video's status.
    """
    video_ids, since_at = validate(videos, channel, since, max_per_video, max_videos)
    store = Store(out)
    result = CollectResult(out=store.out, quota=client.quota)
    collected_at = datetime.now(UTC).replace(microsecond=0)
    try:
        if channel:
            channel_id, video_ids = resolve_channel(client, channel, max_videos)
            log.info("channel %s: %d uploads to collect", channel_id, len(video_ids))
        meta = video_metadata(client, video_ids) if video_ids else {}
    except VideoProblem as exc:  # channels/playlistItems 404
        raise YtSentimentError(f"channel {channel}: {exc}") from exc
    except ApiError as exc:  # quota, key, API down, an unexpected answer
        result.stopped = str(exc)
        return result

    from tqdm import tqdm

    bar = tqdm(video_ids, desc="videos", unit="video", file=sys.stderr, disable=not (progress and sys.stderr.isatty()))
    for video_id in bar:
        snippet = meta.get(video_id)
        vr = VideoResult(video_id, (snippet or {}).get("channelId"), (snippet or {}).get("title"))
        result.videos.append(vr)
        if snippet is None:
            vr.status = "video not found (deleted, private or a wrong id)"
            log.warning("%s: %s", video_id, vr.status)
            continue
        try:
            _VideoRun(client, store, vr, since_at, max_per_video, flush_rows, collected_at).run()
        except VideoProblem as exc:
            vr.status = str(exc)
            log.warning("%s: %s", video_id, vr.status)
        except KeyRejected as exc:
            if exc.reason == "forbidden":  # videos.list accepted the key: this video's threads are off limits
                vr.status = "comments not accessible (403 forbidden)"
                log.warning("%s: %s", video_id, vr.status)
                continue
            vr.status, result.stopped = "stopped", str(exc)
            break
        except ApiError as exc:  # quota spent, API down, an unexpected answer: stop, keep what was fetched
            vr.status, result.stopped = "stopped", str(exc)
            break
        bar.set_postfix(rows=result.new_rows, quota=client.quota.units())
        log.info("%s: %d new rows (%d stored), %s", video_id, vr.new_rows, vr.stored_rows, vr.status)
    bar.close()
    return result


# ---- CLI -----------------------------------------------------------------------------------------------------------

def format_summary(result: CollectResult) -> str:
    lines = [f"{'video':<12} {'channel':<24} {'new':>7} {'stored':>8}  status"]
    for v in result.videos:
        status = v.status + ("" if v.complete or not v.ok else " (incomplete: the next run continues)")
        lines.append(f"{v.video_id:<12} {v.channel_id or '-':<24} {v.new_rows:>7} {v.stored_rows:>8}  {status}")
    lines.append(f"{result.new_rows} new rows in {result.out}")
    lines.append(f"quota used: {result.quota.describe()}")
    if result.stopped:
        lines.append(f"STOPPED: {result.stopped}")
        lines.append(f"kept: {result.new_rows} new rows fetched before the stop are written; re-run to continue")
    return "\n".join(lines)


def add_arguments(p) -> None:
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--videos", nargs="+", metavar="ID|URL", help="video ids or URLs")
    group.add_argument("--channel", metavar="UC…|@handle", help="a channel: its newest --max-videos uploads")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="only comments published on or after this day (UTC)")
    p.add_argument("--max-per-video", type=int, metavar="N", help="at most N new rows per video in this run")
    p.add_argument("--max-videos", type=int, default=50, metavar="N", help="channel uploads to collect (default 50)")
    p.add_argument("--out", required=True, metavar="DIR", help="the Parquet dataset (video_id=<id>/part-*.parquet)")
    p.add_argument("--summary-json", metavar="PATH", help="also write the run summary as JSON (for orchestration)")
    p.epilog = ("Exit 0: every video collected, or some had a per-video problem (comments disabled, not found) and "
                "at least one was collected. Exit 2: bad input, missing or rejected key, quota spent or API down "
                "(what was fetched is kept), or no video could be collected.")


def run(args) -> int:
    validate(args.videos, args.channel, args.since, args.max_per_video, args.max_videos)
    client = YouTubeClient(ClientSettings.from_env())
    result = collect(client, args.out, videos=args.videos, channel=args.channel, since=args.since,
                     max_per_video=args.max_per_video, max_videos=args.max_videos, progress=True)
    print(format_summary(result))
    if args.summary_json:
        write_json(args.summary_json, result.to_dict())
    if result.stopped:
        raise YtSentimentError(f"collect stopped: {result.stopped} (kept {result.new_rows} new rows in {args.out})")
    if result.videos and not any(v.ok for v in result.videos):
        raise YtSentimentError("no video could be collected: " + "; ".join(f"{v.video_id}: {v.status}"
                                                                          for v in result.videos))
    return 0
