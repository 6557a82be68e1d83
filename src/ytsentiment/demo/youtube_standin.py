"""A local stand-in of the YouTube Data API v3: real HTTP on 127.0.0.1, real-shaped JSON, data given in code.

Used by ``ytsentiment demo`` (synthetic comments, ``ytsentiment.demo.synthetic``) and by the tests of
``ytsentiment collect`` and the Airflow DAGs (``tests/batch``), so both exercise one implementation; the client
code path is the production one, only its base URL changes (``YOUTUBE_API_BASE_URL``, see ``batch/youtube.py``)::

    with YouTubeStandin(videos=[...], channels=[...]) as api:   # binds 127.0.0.1, port 0 unless port= is given
        env = api.env()   # YOUTUBE_API_BASE_URL, YOUTUBE_API_KEY, YOUTUBE_BACKOFF_BASE (fast retries)
        ...               # run `ytsentiment collect` (or anything using requests) against api.base_url

Serves ``commentThreads`` (order=time newest first, or relevance by likes; up to 5 replies embedded; page tokens),
``comments`` (parentId, paged), ``videos`` (id list; missing ids are simply absent, as in the real API),
``channels`` (forHandle / id -> uploads playlist) and ``playlistItems`` (uploads, newest first, paged).

Errors use Google's real error JSON (``{"error": {"code", "message", "errors": [{"message", "domain", "reason"}]}}``):
- per video: ``Video(comments_disabled=True)`` -> 403 commentsDisabled; an unknown id -> 404 videoNotFound;
- a wrong key -> 400 (badRequest + API_KEY_INVALID details); no key -> 403 forbidden;
- ``YouTubeStandin(quota=N)``: once N units are spent every call answers 403 quotaExceeded;
- ``api.fail(endpoint, reason, video_id=..., after=k, times=n, retry_after=s)``: the n calls after the k-th
  matching one answer that error (``times=None``: all of them).

Every call is recorded in ``api.calls`` (endpoint, query without the key) and charged in ``api.units`` at the
costs in ``UNIT_COSTS`` (every request received, errors included), an oracle independent of the client's tally.
The DAG tests import this module too: keep the constructor and ``env()`` stable.
"""

from __future__ import annotations

import base64
import copy
import html
import json
import random
import string
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

VALID_KEY = "yt-test-key-valid"  # pragma: allowlist secret - the stand-in's own key, not a Google one
# YouTube's published costs (developers.google.com/youtube/v3/determine_quota_cost), written out independently of
# ytsentiment.batch.youtube.COSTS so that the tests compare two tallies.
UNIT_COSTS = {"commentThreads": 1, "comments": 1, "videos": 1, "channels": 1, "playlistItems": 1, "search": 100}
VIDEO_PARAM = '<code><a href="/youtube/v3/docs/commentThreads/list#videoId">videoId</a></code>'
# reason -> (HTTP status, domain, message); shapes as the API sends them.
ERRORS = {
    "backendError": (503, "global", "Backend Error"),
    "internalError": (500, "global", "Internal error encountered."),
    "rateLimitExceeded": (429, "youtube.quota", "The request cannot be completed because you have exceeded your "
                          "rate limit."),
    "userRateLimitExceeded": (403, "usageLimits", "User Rate Limit Exceeded"),
    "quotaExceeded": (403, "youtube.quota", "The request cannot be completed because you have exceeded your "
                      '<a href="/youtube/v3/getting-started#quota">quota</a>.'),
    "commentsDisabled": (403, "youtube.commentThread", f"The video identified by the {VIDEO_PARAM} parameter has "
                         "disabled comments."),
    "videoNotFound": (404, "youtube.commentThread", f"The video identified by the {VIDEO_PARAM} parameter could not "
                      "be found."),
    "playlistNotFound": (404, "youtube.playlistItem", "The playlist identified with the request's "
                         "<code>playlistId</code> parameter cannot be found."),
    "keyInvalid": (400, "global", "API key not valid. Please pass a valid API key."),
    "forbidden": (403, "global", "The request is missing a valid API key."),
    "missingRequiredParameter": (400, "youtube.parameter", "No filter selected. Expected one of: videoId, id, "
                                 "allThreadsRelatedToChannelId, channelId."),
}
# Today's answer to a wrong key: badRequest plus a google.rpc.ErrorInfo naming API_KEY_INVALID (the body of
# tests/extension/fixtures/error-key-invalid.json).
KEY_INVALID_BODY = {"error": {
    "code": 400, "message": "API key not valid. Please pass a valid API key.",
    "errors": [{"message": "API key not valid. Please pass a valid API key.", "domain": "global",
                "reason": "badRequest"}],
    "status": "INVALID_ARGUMENT",
    "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                 "domain": "googleapis.com", "metadata": {"service": "youtube.googleapis.com"}}],
}}


def error_body(reason: str, status: int | None = None) -> tuple[int, dict]:
    code, domain, message = ERRORS[reason]
    code = status or code
    if reason == "keyInvalid":  # today's shape: badRequest plus a google.rpc.ErrorInfo naming API_KEY_INVALID
        return code, copy.deepcopy(KEY_INVALID_BODY)
    err: dict = {"message": message, "domain": domain, "reason": reason}
    if reason in ("commentsDisabled", "videoNotFound"):
        err.update(location="videoId", locationType="parameter")
    return code, {"error": {"code": code, "message": message, "errors": [err]}}


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def escape_plain(text: str) -> str:
    """What textFormat=plainText puts in textDisplay: HTML special characters as entities."""
    return html.escape(text, quote=True).replace("&#x27;", "&#39;")


def comment(comment_id: str, video_id: str, channel_id: str, text: str, published: datetime, *, likes: int = 0,
            parent_id: str | None = None, author: str = "UCauthor0000000000000000", with_original: bool = True,
            edited_after: timedelta | None = None, author_name: str = "@someone") -> dict:
    """A ``youtube#comment`` resource (textOriginal present unless ``with_original`` is False)."""
    snippet: dict[str, Any] = {"channelId": channel_id, "videoId": video_id, "textDisplay": escape_plain(text)}
    if with_original:
        snippet["textOriginal"] = text
    if parent_id:
        snippet["parentId"] = parent_id
    snippet.update({
        "authorDisplayName": author_name, "authorProfileImageUrl": "https://yt3.ggpht.com/ytc/x=s48-c-k-c0x00ffffff",
        "authorChannelUrl": f"http://www.youtube.com/{author_name}", "authorChannelId": {"value": author},
        "canRate": True, "viewerRating": "none", "likeCount": likes, "publishedAt": stamp(published),
        "updatedAt": stamp(published + (edited_after or timedelta(0))),
    })
    return {"kind": "youtube#comment", "etag": f"e{zlib.crc32(comment_id.encode()):08x}", "id": comment_id,
            "snippet": snippet}


@dataclass
class Video:
    """A video: its threads (top-level comments), the full reply list of each, and whether comments are off."""

    video_id: str
    channel_id: str
    title: str = "a video"
    published_at: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    comments_disabled: bool = False
    threads: dict[str, dict] = field(default_factory=dict)  # thread id → top-level youtube#comment
    replies: dict[str, list[dict]] = field(default_factory=dict)  # thread id → replies, oldest first
    _n: int = 0

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self.video_id}{self._n:06d}"

    def add_thread(self, text: str, published: datetime, likes: int = 0, **kw) -> str:
        thread_id = kw.pop("thread_id", None) or self._id("Ugz")
        self.threads[thread_id] = comment(thread_id, self.video_id, self.channel_id, text, published, likes=likes,
                                          **kw)
        self.replies.setdefault(thread_id, [])
        return thread_id

    def add_reply(self, thread_id: str, text: str, published: datetime, likes: int = 0, **kw) -> str:
        reply_id = kw.pop("reply_id", None) or f"{thread_id}.{self._id('r')}"
        self.replies[thread_id].append(comment(reply_id, self.video_id, self.channel_id, text, published,
                                               likes=likes, parent_id=thread_id, **kw))
        self.replies[thread_id].sort(key=lambda c: (c["snippet"]["publishedAt"], c["id"]))
        return reply_id

    @property
    def rows(self) -> int:
        """Comments plus replies: what a full collect stores for this video."""
        return len(self.threads) + sum(len(r) for r in self.replies.values())

    def thread_item(self, thread_id: str, with_replies: bool) -> dict:
        top = self.threads[thread_id]
        replies = self.replies[thread_id]
        item = {"kind": "youtube#commentThread", "etag": top["etag"] + "t", "id": thread_id, "snippet": {
            "channelId": self.channel_id, "videoId": self.video_id, "topLevelComment": copy.deepcopy(top),
            "canReply": True, "totalReplyCount": len(replies), "isPublic": True}}
        if with_replies and replies:
            item["replies"] = {"comments": copy.deepcopy(replies[:5])}
        return item


@dataclass
class Channel:
    channel_id: str
    handle: str  # "@name"
    video_ids: list[str]  # uploads, newest first
    title: str = "a channel"

    @property
    def uploads(self) -> str:
        return "UU" + self.channel_id[2:]


def _token(*parts) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def _untoken(token: str) -> list:
    return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


@dataclass
class _Rule:
    endpoint: str
    reason: str
    video_id: str | None
    after: int
    times: int | None
    retry_after: str | None
    status: int | None
    seen: int = 0
    fired: int = 0


class YouTubeStandin:
    """The stand-in API server; a context manager that starts it on 127.0.0.1 (``port``, default 0: a free one
    chosen by the kernel) and stops it on exit. An explicit port already in use raises OSError (EADDRINUSE)."""

    def __init__(self, videos: Iterable[Video] = (), channels: Iterable[Channel] = (), *, api_key: str = VALID_KEY,
                 quota: int | None = None, port: int = 0):
        self.videos = {v.video_id: v for v in videos}
        self.channels = list(channels)
        self.api_key, self.quota, self.port = api_key, quota, port
        self.calls: list[tuple[str, dict]] = []
        self.units = 0
        self.rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- life cycle
    def start(self) -> YouTubeStandin:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the name http.server calls)
                status, body, headers = standin.handle(self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # keep test and demo output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="youtube-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> YouTubeStandin:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the YouTube stand-in is not running: start() it first")
        return f"http://127.0.0.1:{self._server.server_address[1]}/youtube/v3"

    def env(self, backoff_base: float = 0.001) -> dict[str, str]:
        """The environment a client needs to talk to this stand-in (fast retries)."""
        return {"YOUTUBE_API_BASE_URL": self.base_url, "YOUTUBE_API_KEY": self.api_key,
                "YOUTUBE_BACKOFF_BASE": str(backoff_base), "YOUTUBE_MAX_WAIT": "5"}

    # ---- test controls
    def fail(self, endpoint: str, reason: str, *, video_id: str | None = None, after: int = 0, times: int | None = 1,
             retry_after: str | None = None, status: int | None = None) -> None:
        """Answer ``reason``'s error to matching calls number after+1 … after+times (``endpoint="*"``: any)."""
        self.rules.append(_Rule(endpoint, reason, video_id, after, times, retry_after, status))

    def count(self, endpoint: str, **params: str) -> int:
        """How many calls went to ``endpoint`` with these query values."""
        return sum(1 for e, q in self.calls if e == endpoint and all(q.get(k) == v for k, v in params.items()))

    # ---- request handling
    def handle(self, raw_path: str) -> tuple[int, dict, dict]:
        parsed = urlparse(raw_path)
        endpoint = parsed.path.rstrip("/").rsplit("/", 1)[-1]
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        key = query.pop("key", None)
        with self._lock:
            self.calls.append((endpoint, query))
            self.units += UNIT_COSTS.get(endpoint, 1)
            over_quota = self.quota is not None and self.units > self.quota
            rule = self._matching_rule(endpoint, query)
        if key is None:
            return (*error_body("forbidden"), {})
        if key != self.api_key:
            return (*error_body("keyInvalid"), {})
        if over_quota:
            return (*error_body("quotaExceeded"), {})
        if rule is not None:
            headers = {"Retry-After": rule.retry_after} if rule.retry_after else {}
            return (*error_body(rule.reason, rule.status), headers)
        handler = getattr(self, f"_{endpoint}", None) if endpoint in UNIT_COSTS else None
        if handler is None:
            return 404, {"error": {"code": 404, "message": "Not Found", "errors": [
                {"message": "Not Found", "domain": "global", "reason": "notFound"}]}}, {}
        if "part" not in query:
            return 400, {"error": {"code": 400, "message": "Required parameter: part", "errors": [
                {"message": "Required parameter: part", "domain": "global", "reason": "required",
                 "location": "part", "locationType": "parameter"}]}}, {}
        status, body = handler(query)
        return status, body, {}

    def _video_of(self, query: dict) -> str | None:
        if "videoId" in query:
            return query["videoId"]
        if "parentId" in query:
            return next((v.video_id for v in self.videos.values() if query["parentId"] in v.threads), None)
        return query.get("id")

    def _matching_rule(self, endpoint: str, query: dict) -> _Rule | None:
        for rule in self.rules:
            if rule.endpoint not in ("*", endpoint):
                continue
            if rule.video_id is not None and rule.video_id != self._video_of(query):
                continue
            rule.seen += 1
            if rule.seen > rule.after and (rule.times is None or rule.fired < rule.times):
                rule.fired += 1
                return rule
        return None

    @staticmethod
    def _page(items: list, query: dict, default: int, largest: int, kind: str) -> dict:
        size = max(1, min(largest, int(query.get("maxResults", default))))
        offset = _untoken(query["pageToken"])[1] if query.get("pageToken") else 0
        body: dict[str, Any] = {"kind": kind, "etag": f"etag{offset}"}
        if offset + size < len(items):
            body["nextPageToken"] = _token(kind, offset + size, "".join(random.choices(string.ascii_letters, k=8)))
        body["pageInfo"] = {"totalResults": len(items[offset:offset + size]), "resultsPerPage": size}
        body["items"] = items[offset:offset + size]
        return body

    def _commentThreads(self, query: dict) -> tuple[int, dict]:  # noqa: N802 (the API's name)
        if "videoId" not in query:
            return error_body("missingRequiredParameter")
        video = self.videos.get(query["videoId"])
        if video is None:
            return error_body("videoNotFound")
        if video.comments_disabled:
            return error_body("commentsDisabled")
        if query.get("order", "time") == "time":
            order = sorted(video.threads, key=lambda t: (video.threads[t]["snippet"]["publishedAt"], t), reverse=True)
        else:
            order = sorted(video.threads, key=lambda t: -video.threads[t]["snippet"]["likeCount"])
        items = [video.thread_item(t, "replies" in query["part"]) for t in order]
        return 200, self._page(items, query, 20, 100, "youtube#commentThreadListResponse")

    def _comments(self, query: dict) -> tuple[int, dict]:
        video_id = self._video_of(query)
        if video_id is None:
            return 404, {"error": {"code": 404, "message": "The comment identified by the parentId parameter could "
                                   "not be found.", "errors": [{"message": "not found", "domain": "youtube.comment",
                                                                "reason": "commentNotFound"}]}}
        items = copy.deepcopy(self.videos[video_id].replies[query["parentId"]])
        return 200, self._page(items, query, 20, 100, "youtube#commentListResponse")

    def _videos(self, query: dict) -> tuple[int, dict]:
        items = []
        for video_id in query.get("id", "").split(","):
            video = self.videos.get(video_id)
            if video is not None:
                items.append({"kind": "youtube#video", "etag": "v", "id": video_id, "snippet": {
                    "publishedAt": stamp(video.published_at), "channelId": video.channel_id, "title": video.title}})
        return 200, {"kind": "youtube#videoListResponse", "etag": "vl", "items": items,
                     "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)}}

    def _channels(self, query: dict) -> tuple[int, dict]:
        if "forHandle" in query:
            handle = "@" + query["forHandle"].lstrip("@").lower()
            found = [c for c in self.channels if c.handle.lower() == handle]
        else:
            wanted = set(query.get("id", "").split(","))
            found = [c for c in self.channels if c.channel_id in wanted]
        body: dict[str, Any] = {"kind": "youtube#channelListResponse", "etag": "cl",
                "pageInfo": {"totalResults": len(found), "resultsPerPage": 5}}
        if found:  # the real API leaves `items` out when nothing matches
            body["items"] = [{"kind": "youtube#channel", "etag": "c", "id": c.channel_id,
                              "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": c.uploads}}}
                             for c in found]
        return 200, body

    def _playlistItems(self, query: dict) -> tuple[int, dict]:  # noqa: N802 (the API's name)
        channel = next((c for c in self.channels if c.uploads == query.get("playlistId")), None)
        if channel is None:
            return error_body("playlistNotFound")
        items = [{"kind": "youtube#playlistItem", "etag": "p", "id": f"pl{vid}",
                  "contentDetails": {"videoId": vid, "videoPublishedAt": stamp(self.videos[vid].published_at)
                                     if vid in self.videos else "2024-01-01T00:00:00Z"}}
                 for vid in channel.video_ids]
        return 200, self._page(items, query, 5, 50, "youtube#playlistItemListResponse")
