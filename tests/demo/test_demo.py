"""`ytsentiment demo` end to end: a real subprocess starting real gunicorn and the YouTube stand-in, the batch path,
/analyze, /feedback and the monitor; then SIGINT, and nothing may be left running or listening.

Expected values come from the synthetic channel itself (``demo_channel``), not from the demo's output.
"""

from __future__ import annotations

import html
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
import requests

from ytsentiment.demo.synthetic import MARKUP_COMMENT, demo_channel

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
READY = re.compile(r"^demo ready in \d+ s: API (?P<api>\S+) · YouTube stand-in (?P<youtube>\S+)$", re.M)
READY_TIMEOUT_S = 150


class Output:
    """The demo's stdout, read line by line in a thread (so the pipe never fills)."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:
        for line in iter(stream.readline, ""):
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: re.Pattern, proc: subprocess.Popen, timeout: float, err: Path) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if match := pattern.search(self.text):
                return match
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        pytest.fail(f"no {pattern.pattern!r} (exit code {proc.poll()}):\n{self.text[-4000:]}\n"
                    f"stderr:\n{err.read_text(errors='replace')[-3000:]}")


def line_value(text: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)}: (.+)$", text, re.M)
    assert match, f"no '{label}:' line in the demo's output:\n{text}"
    return match.group(1).strip()


def group_members(pgid: int) -> list[psutil.Process]:
    """Live (non-zombie) processes of process group ``pgid``."""
    out = []
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                out.append(proc)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return out


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def demo_process(tmp_path):
    """`ytsentiment demo --sample-model` in a subprocess (outputs in tmp_path, an MLflow store that does not exist,
    so nothing of the repository's registry is read or written); killed with its group if a test fails early."""
    out, err = tmp_path / "out", tmp_path / "stderr.log"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'no-mlflow.db'}", "PYTHONUNBUFFERED": "1"}
    for name in ("YOUTUBE_API_KEY", "YOUTUBE_API_BASE_URL", "DATABASE_URL", "MODEL_URI"):
        env.pop(name, None)
    with err.open("w") as errors:
        proc = subprocess.Popen([sys.executable, "-m", "ytsentiment.cli", "demo", "--sample-model", "--out", str(out)],
                                cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=errors, text=True,
                                encoding="utf-8", start_new_session=True)
    output = Output(proc.stdout)
    try:
        yield proc, output, out, err
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        pids = re.findall(r"gunicorn pid (\d+)", output.text)
        for member in group_members(int(pids[0])) if pids else []:
            member.kill()


def test_demo_serves_reports_and_stops_cleanly_on_ctrl_c(demo_process):
    proc, output, out, err = demo_process
    started = time.monotonic()
    ready = output.wait_for(READY, proc, READY_TIMEOUT_S, err)
    api, youtube = ready["api"], ready["youtube"]
    text = output.text
    gunicorn = int(re.search(r"gunicorn pid (\d+)", text).group(1))
    assert "SAMPLE model" in text

    # The API answers, with the model the demo says it serves.
    assert requests.get(f"{api}/ready", timeout=10).status_code == 200
    answer = requests.post(f"{api}/predict", json={"comments": ["I love this video, thank you!"]}, timeout=30)
    assert answer.status_code == 200 and answer.json()[0]["sentiment"] in (-1, 0, 1)
    assert requests.get(f"{api}/model", timeout=10).json()["name"] == "ytsentiment-sample"

    # The stand-in is a YouTube Data API: the channel's videos, with the key the demo printed.
    data = demo_channel()
    key = re.search(r"\(key (\S+);", text).group(1)
    videos = requests.get(f"{youtube}/videos", params={"part": "snippet", "id": ",".join(v.video_id for v in
                                                                                       data.videos), "key": key},
                          timeout=10).json()
    assert sorted(v["id"] for v in videos["items"]) == sorted(v.video_id for v in data.videos)

    # Every synthetic comment went through collect and /analyze into the prediction log, and viewers' labels too.
    with sqlite3.connect(out / "ytsentiment.db") as db:
        assert db.execute("select count(*) from predictions").fetchone()[0] == data.n_comments
        assert db.execute("select count(*) from feedback").fetchone()[0] > 20
        assert db.execute("select sum(n_comments) from video_aggregates").fetchone()[0] == data.n_comments

    # The channel report shows comments as text: the markup comment escaped, never as a tag.
    channel_report = Path(line_value(text, "channel report"))
    assert channel_report == (out / "channel-report.html").resolve()
    page = channel_report.read_text(encoding="utf-8")
    assert html.escape(MARKUP_COMMENT, quote=False) in page
    assert "<script>alert(1)" not in page
    for video in data.videos:
        assert video.video_id in page

    # The monitor judged the demo's traffic (demo-sized windows), and its report never carries raw markup.
    monitor_report = Path(line_value(text, "monitor report"))
    assert monitor_report == (out / "monitor" / "report.html").resolve()
    summary = json.loads((monitor_report.parent / "summary.json").read_text(encoding="utf-8"))
    assert summary["decision"] in ("ok", "retrain")
    assert summary["drift"]["enough_data"] and summary["live_quality"]["enough_data"]
    # Baseline and window split between videos, never inside one request: every comment is in one of them.
    assert summary["drift"]["n_reference"] + summary["drift"]["n_window"] == data.n_comments
    report = monitor_report.read_text(encoding="utf-8")
    assert "<script>alert(1)" not in report
    frames = [html.unescape(doc) for doc in re.findall(r'srcdoc="([^"]*)"', report)]  # Evidently's views
    english = [c["snippet"]["textOriginal"] for v in data.videos for c in v.threads.values()
               if c["id"] in data.labels and c["snippet"]["textOriginal"].isascii()]
    assert any(t in doc for t in english for doc in frames), "no synthetic comment in the monitor report"
    for doc in frames:  # Evidently's data holds the markup comment as a JSON string, never as markup
        assert MARKUP_COMMENT not in doc and "<script>alert(1)" not in doc

    # Ctrl-C: exit 0, gunicorn's whole group gone, both ports free.
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=45) == 0, output.text[-3000:]
    assert "Stopped: nothing the demo started is running." in output.text
    assert not group_members(gunicorn), f"left running: {group_members(gunicorn)}"
    for url in (api, youtube):
        port = urlsplit(url).port
        assert port_is_free(port), f"port {port} ({url}) still in use after the demo stopped"
    assert time.monotonic() - started < 120
