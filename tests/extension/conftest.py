"""Fixtures of the extension tests: the real sentiment API under gunicorn (its database a temp SQLite file,
`api_database`), headless Chromium with the unpacked extension, and a fake YouTube Data API served from the JSON
fixtures through Playwright routing."""

from __future__ import annotations

import html
import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from support.chromium import chromium_path
from support.servers import free_port, start_gunicorn

REPO = Path(__file__).resolve().parents[2]
EXT_DIR = REPO / "chrome-extension"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXTENSION_ID = "hjpcimaolalbjpklelngebhdenmmbfmd"
READY_TIMEOUT_S = 120


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL nothing listens on (the port was free a moment ago)."""
    return f"http://127.0.0.1:{free_port()}"


@dataclass
class ApiDatabase:
    """The API's database in these tests: a SQLite file in a temp dir, read back with sqlite3."""

    path: Path

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def rows(self, sql: str, params: tuple = ()) -> list[dict]:
        with sqlite3.connect(self.path, timeout=10) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(sql, params).fetchall()]


@pytest.fixture(scope="package")
def api_database(tmp_path_factory) -> ApiDatabase:
    """A fresh SQLite database migrated to the current schema (the prediction log and the /feedback labels)."""
    from ytsentiment.storage.migrate import upgrade

    db = ApiDatabase(tmp_path_factory.mktemp("api-db") / "ytsentiment.db")
    upgrade(db.url)
    return db


@pytest.fixture(scope="package")
def sentiment_api(trained_model_dir, tmp_path_factory, api_database):
    """Base URL of the real Flask app under gunicorn on a loopback port of its own, serving a real trained model and
    storing predictions and feedback in `api_database`."""
    env = {"DATABASE_URL": api_database.url, "PREDICTION_LOG": "on", "PREDICTION_LOG_TEXT": "true",
           "PREDICTION_LOG_SEGMENT_SECONDS": "0.2"}
    server = start_gunicorn(str(trained_model_dir), tmp_path_factory.mktemp("gunicorn") / "gunicorn.log",
                            extra_env=env)
    try:
        server.wait_ready(READY_TIMEOUT_S)
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def artifacts(tmp_path) -> Path:
    """Where a test writes its screenshots and timings: its own pytest temp dir, never the repository."""
    path = tmp_path / "artifacts"
    path.mkdir()
    return path


def _load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@dataclass
class FakeYouTube:
    """Serves the fixtures like the YouTube Data API v3 would, and records what the extension asked for."""

    index: dict = field(default_factory=lambda: _load("index.json"))
    requests: list[dict] = field(default_factory=list)
    offline: bool = False
    # Page tokens whose answer is held back until release() (to look at the popup mid-fetch).
    hold_tokens: set[str] = field(default_factory=set)
    held: list = field(default_factory=list)

    def __post_init__(self):
        self.pages = {p["token"]: _load(p["file"]) for p in self.index["pages"]}
        self.replies = {tid: _load(f) for tid, f in self.index["replies"].items()}

    def reset(self) -> None:
        self.requests.clear()
        self.offline = False
        self.hold_tokens.clear()
        self.release()

    def release(self) -> None:
        while self.held:
            route, status, body = self.held.pop(0)
            self._fulfill(route, status, body)

    @staticmethod
    def _fulfill(route, status: int, body: dict) -> None:
        origin = route.request.headers.get("origin")
        headers = {"content-type": "application/json; charset=UTF-8", "vary": "Origin"}
        if origin:
            headers["access-control-allow-origin"] = origin
        route.fulfill(status=status, headers=headers, body=json.dumps(body, ensure_ascii=False))

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, dict]:
        key = params.get("key")
        if key == self.index["quotaSpentKey"]:
            return 403, _load("error-quota-exceeded.json")
        if key != self.index["validKey"]:
            return 400, _load("error-key-invalid.json")
        if path.endswith("/comments"):
            if params.get("parentId") in self.replies:
                return 200, self.replies[params["parentId"]]
            return 404, {
                "error": {
                    "code": 404,
                    "message": "The comment could not be found.",
                    "errors": [{"reason": "commentNotFound", "domain": "youtube.comment"}],
                }
            }
        video = params.get("videoId")
        if video in self.index["videos"]:
            special = self.index["videos"][video]
            return special["status"], _load(special["file"])
        if video != self.index["videoId"]:
            return 404, _load("error-video-not-found.json")
        token = params.get("pageToken")
        if token not in self.pages:
            reason = {"reason": "invalidPageToken", "domain": "youtube.commentThread"}
            return 400, {
                "error": {"code": 400, "message": "The page token is not valid.", "errors": [reason]}
            }
        page = json.loads(json.dumps(self.pages[token]))
        if "replies" not in params.get("part", "").split(","):
            for item in page["items"]:
                item.pop("replies", None)
        page["items"] = page["items"][: int(params.get("maxResults", "20"))]
        return 200, page

    def handle(self, route) -> None:
        url = urlsplit(route.request.url)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.requests.append({"path": url.path, **params})
        if self.offline:
            route.abort("internetdisconnected")
            return
        status, body = self.answer(url.path, params)
        if params.get("pageToken") in self.hold_tokens:
            self.held.append((route, status, body))
            return
        self._fulfill(route, status, body)

    def thread_comments(self, limit: int) -> list[dict]:
        """The first `limit` top-level comments as the extension should read them (no replies)."""
        out = []
        for p in self.index["pages"]:
            for item in self.pages[p["token"]]["items"]:
                s = item["snippet"]["topLevelComment"]["snippet"]
                text = s.get("textOriginal") or html.unescape(s["textDisplay"])
                out.append(
                    {
                        "text": text,
                        "likes": s["likeCount"],
                        "author": s["authorChannelId"]["value"],
                        "timestamp": s["publishedAt"],
                    }
                )
        return out[:limit]


@pytest.fixture(scope="package")
def youtube() -> FakeYouTube:
    return FakeYouTube()


@pytest.fixture(scope="package")
def extension_context(tmp_path_factory, youtube):
    """Headless Debian Chromium with the unpacked extension loaded, the YouTube API routed to the fixtures."""
    from playwright.sync_api import sync_playwright

    chromium = chromium_path()
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium,
            headless=True,
            viewport={"width": 480, "height": 900},
            args=[
                f"--disable-extensions-except={EXT_DIR}",
                f"--load-extension={EXT_DIR}",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            context.route("https://www.googleapis.com/youtube/v3/**", youtube.handle)
            yield context
        finally:
            context.close()


@pytest.fixture(scope="package")
def service_worker(extension_context):
    workers = extension_context.service_workers
    worker = workers[0] if workers else extension_context.wait_for_event("serviceworker", timeout=15_000)
    return worker


@pytest.fixture(scope="package")
def install_options_url(extension_context, service_worker) -> str:
    """The URL the service worker opens on install (no key stored yet); the tab is closed afterwards.

    Chrome opens it shortly after start-up, in a blank tab it reuses. A test page navigating at that moment would be
    interrupted by it, so every extension test waits for it first (through `extension_id`).
    """
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        pages = extension_context.pages or [extension_context.wait_for_event("page", timeout=15_000)]
        for tab in pages:
            if urlsplit(tab.url).path == "/options.html":
                url = tab.url
                tab.close()
                return url
        pages[0].wait_for_timeout(50)  # lets Playwright take in Chrome's navigation events
    pytest.fail(f"the service worker did not open the options page on install; open tabs: {pages}")


@pytest.fixture(scope="package")
def extension_id(service_worker, install_options_url) -> str:
    return urlsplit(service_worker.url).netloc


class Settings:
    """Reads and writes the extension's chrome.storage.local through its service worker."""

    def __init__(self, worker):
        self.worker = worker

    def set(self, **settings) -> None:
        self.worker.evaluate("s => chrome.storage.local.set({settings: s})", settings)

    def clear(self) -> None:
        self.worker.evaluate("() => chrome.storage.local.clear()")

    def get(self) -> dict | None:
        script = "async () => (await chrome.storage.local.get('settings')).settings ?? null"
        return self.worker.evaluate(script)


@pytest.fixture
def settings(service_worker, youtube):
    youtube.reset()
    store = Settings(service_worker)
    store.clear()
    yield store
    youtube.reset()


@pytest.fixture
def page(extension_context):
    p = extension_context.new_page()
    yield p
    p.close()
