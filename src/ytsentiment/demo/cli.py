"""`ytsentiment demo` (`make demo`): the whole system on this machine, with no key, no data to fetch and no cloud.

1. The API: the real gunicorn (``src/ytsentiment/api/gunicorn.conf.py``) on 127.0.0.1, serving the promoted model
   when there is one, else a SAMPLE model trained on the spot (``demo.model``).
2. A stand-in of the YouTube Data API v3 (``demo.youtube_standin``) serving a synthetic channel of four videos and
   a few hundred comments written for the project (``demo.synthetic``).
3. The batch path against them, through the same verbs as the CLI: ``collect`` -> ``score`` -> ``load`` ->
   ``report``; every comment through the API's ``/analyze`` (the extension's request), some viewers' labels to
   ``/feedback``; then ``monitor`` on that database with demo-sized windows.
4. Where the reports are, and how to load the Chrome extension against this API.
5. Everything keeps running until Ctrl-C or SIGTERM (``--no-wait``: stop at once), then the demo stops what it
   started: the API's whole process group, the stand-in, and their ports.

Outputs go to ``--out`` (default ``var/demo``, git-ignored), which the next run replaces; a folder the demo did not
make is never touched. Exit codes: 0 ok (also after Ctrl-C while serving), 2 bad input or a step failed (the
message says what to fix), 130 interrupted before the demo was ready.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import shlex
import shutil
import signal
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest import mock

import requests
import yaml

from ytsentiment import YtSentimentError, config
from ytsentiment.batch.collect import read_comments
from ytsentiment.demo import model
from ytsentiment.demo.servers import ApiServer, check_port, port_error, repo_root
from ytsentiment.demo.synthetic import DemoChannel, demo_channel
from ytsentiment.demo.youtube_standin import YouTubeStandin
from ytsentiment.storage.db import make_engine
from ytsentiment.storage.migrate import upgrade
from ytsentiment.storage.models import Prediction

DEMO_KEY = "ytsentiment-demo-key"  # pragma: allowlist secret - what the stand-in accepts; not a Google key
MARKER = ".ytsentiment-demo"
# What a run writes into --out (and the next run removes); nothing else in the folder is touched.
# The sample model stays until the next one replaces it, so `--model-uri var/demo/sample-model` can reuse it.
OUTPUTS = ("comments", "scores.parquet", "ytsentiment.db", "ytsentiment.db-journal", "ytsentiment.db-wal",
           "ytsentiment.db-shm", "channel-report.html", "monitor", "monitor-params.yaml", "api.log")
FEEDBACK_EVERY = 3  # one English comment in three gets a viewer's label
VIEWERS = 8  # distinct feedback client ids (each under the API's per-client rate limit)
LOG_WAIT_SECONDS = 60.0


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived (a BaseException, like KeyboardInterrupt, so no `except Exception` swallows it)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def say(text: str = "") -> None:
    """The demo's output: flushed line by line, so a pipe (a test, `tee`) sees each step when it happens."""
    print(text, flush=True)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="var/demo", help="folder for every output (default %(default)s; replaced by "
                                                     "the next run; a non-empty folder the demo did not make is "
                                                     "refused)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--model-uri", help="serve this model (a model directory, models:/NAME@ALIAS or "
                                           "models:/NAME/VERSION) instead of looking for the promoted one; "
                                           "OUT/sample-model reuses the last sample model")
    which.add_argument("--sample-model", action="store_true",
                       help="train and serve a SAMPLE model even when a promoted one exists")
    p.add_argument("--params", default="params.yaml", help="params file (ingest sources of the sample model, "
                                                           "the monitor's thresholds)")
    p.add_argument("--api-port", type=int, default=0, help="the API's port on 127.0.0.1 (default 0: any free one)")
    p.add_argument("--youtube-port", type=int, default=0,
                   help="the YouTube stand-in's port on 127.0.0.1 (default 0: any free one)")
    p.add_argument("--workers", type=int, default=1, help="gunicorn workers (default %(default)s)")
    p.add_argument("--seed", type=int, default=7, help="seed of the synthetic comments (default %(default)s)")
    p.add_argument("--ready-timeout", type=float, default=180.0,
                   help="seconds the API may take to load its model (default %(default)s)")
    p.add_argument("--no-wait", action="store_true", help="stop everything and exit once the demo is ready "
                                                          "(for tests and CI)")


def run(args) -> int:
    if args.workers < 1:
        raise YtSentimentError(f"--workers must be at least 1 (got {args.workers})")
    check_port(args.api_port, "--api-port")
    check_port(args.youtube_port, "--youtube-port")
    if args.api_port and args.api_port == args.youtube_port:
        raise YtSentimentError(f"--api-port and --youtube-port are both {args.api_port}: give them different ports")
    out = prepare_out(Path(args.out))
    previous = {s: signal.signal(s, _interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    started = time.monotonic()
    ready = False
    try:
        with ExitStack() as stack:
            try:
                demo = Demo(args, out, stack, started)
                demo.start()
                ready = True
                if args.no_wait:
                    say("--no-wait: stopping everything.")
                else:
                    say("Press Ctrl-C to stop (the API and the stand-in stop with the demo).")
                    demo.serve_until_stopped()
            except Interrupted as exc:
                say(f"{exc}: stopping everything.")
            finally:
                _ignore_signals()  # a second Ctrl-C must not cut the clean-up short
        say("Stopped: nothing the demo started is running.")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if ready else 130


def _interrupt(signum, _frame):
    _ignore_signals()
    raise Interrupted(signum)


def _ignore_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def prepare_out(out: Path) -> Path:
    """Create ``out`` or reset a previous demo's outputs in it; refuse a non-empty folder the demo did not make."""
    if out.exists() and not out.is_dir():
        raise YtSentimentError(f"--out {out} is a file: pass a folder (default var/demo)")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise YtSentimentError(f"--out {out} is not empty and was not made by the demo: pass a new or empty folder "
                               "(the demo replaces its folder's contents on every run)")
    for name in OUTPUTS:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by `ytsentiment demo`; the next run replaces the demo's outputs here\n",
                              encoding="utf-8")
    return out


def verb(name: str, module: str, argv: list[str], env: dict[str, str] | None = None) -> None:
    """Run ``ytsentiment NAME ARGV`` in this process through the verb's own ``add_arguments``/``run`` pair."""
    shown = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items() if k != "YOUTUBE_BACKOFF_BASE")
    say(f"\n$ {shown + ' ' if shown else ''}ytsentiment {name} {shlex.join(argv)}")
    mod = importlib.import_module(module)
    parser = argparse.ArgumentParser(prog=f"ytsentiment {name}")
    mod.add_arguments(parser)
    with mock.patch.dict(os.environ, env or {}):  # set for the verb, restored after
        code = mod.run(parser.parse_args(argv))
    if code:
        raise YtSentimentError(f"ytsentiment {name} exited with {code}")


class Demo:
    """The demo's steps; every server it starts is registered on ``stack`` to be stopped."""

    def __init__(self, args, out: Path, stack: ExitStack, started: float):
        self.args, self.out, self.stack, self.started = args, out, stack, started
        self.database_url = f"sqlite:///{(out / 'ytsentiment.db').resolve()}"
        self._api: ApiServer | None = None
        self._standin: YouTubeStandin | None = None

    @property
    def api(self) -> ApiServer:
        if self._api is None:
            raise RuntimeError("the API is not started yet")
        return self._api

    @property
    def standin(self) -> YouTubeStandin:
        if self._standin is None:
            raise RuntimeError("the YouTube stand-in is not started yet")
        return self._standin

    # ---- the steps
    def start(self) -> None:
        say("ytsentiment demo: the API, a YouTube stand-in, the batch path and the monitor on this machine "
            "(no key, no download, no cloud).")
        model = self.choose_model()
        say(f"model: {model.description}")
        if model.sample:
            say("  -> this is a SAMPLE model: its answers show how the system works, not how good the real one is.")
        data = demo_channel(self.args.seed)
        self.start_standin(data)
        self.start_api(model.uri)
        comments, scores, report = self.out / "comments", self.out / "scores.parquet", self.out / "channel-report.html"
        handle = data.channel.handle
        verb("collect", "ytsentiment.batch.collect", ["--channel", handle, "--out", str(comments)],
             self.standin.env(backoff_base=0.01))
        verb("score", "ytsentiment.batch.score", [str(comments), "--out", str(scores), "--model-uri", model.uri])
        verb("load", "ytsentiment.batch.aggregate", [str(scores), "--channel", data.channel.channel_id,
                                                      "--database-url", self.database_url])
        verb("report", "ytsentiment.batch.report", ["--channel", data.channel.channel_id, "--out", str(report),
                                                    "--min-month-comments", "10", "--database-url",
                                                    self.database_url])
        self.wait_api_ready()
        info = self.api_get("/model")
        predictions, per_video = self.analyze(comments, [v.video_id for v in reversed(data.videos)])
        self.wait_for_log(len(predictions))
        n_feedback = self.feedback(predictions, data.labels)
        monitor_dir = self.monitor(info, sum(per_video[:len(per_video) // 2]), len(predictions), n_feedback)
        self.explain(report, monitor_dir / "report.html", handle)

    def choose_model(self) -> model.DemoModel:
        if self.args.model_uri:
            return model.given(self.args.model_uri)
        found = None if self.args.sample_model else model.promoted(config.model_name())
        if found is not None:
            return found
        say("model: no promoted model (MLflow @production or model/) - training a SAMPLE model (~10 s)...")
        return model.train_sample(self.args.params, self.out / "sample-model")

    def start_standin(self, data: DemoChannel) -> None:
        standin = YouTubeStandin(data.videos, [data.channel], api_key=DEMO_KEY, port=self.args.youtube_port)
        try:
            standin.start()
        except OSError as exc:
            raise port_error("--youtube-port", self.args.youtube_port, exc) from exc
        self.stack.callback(standin.stop)
        self._standin = standin
        say(f"YouTube stand-in ready: {standin.base_url} (key {DEMO_KEY}; channel {data.channel.handle}, "
            f"{len(data.videos)} videos, {data.n_comments} comments and replies)")

    def start_api(self, model_uri: str) -> None:
        upgrade(self.database_url)  # before the workers start, so they never race to create the schema
        env = {"DATABASE_URL": self.database_url, "PREDICTION_LOG": "on", "PREDICTION_LOG_TEXT": "true",
               "PREDICTION_LOG_SEGMENT_SECONDS": "0.2", "PREDICTION_LOG_SPOOL_DIR": str((self.out / "spool").resolve()),
               # every simulated viewer sends feedback from this machine's one address
               "FEEDBACK_CLIENTS_PER_ADDRESS": str(VIEWERS)}
        self._api = ApiServer.start(model_uri, self.args.api_port, self.out / "api.log", env, self.args.workers)
        self.stack.callback(self._stop_api)
        self.api.wait_listening()
        say(f"API listening: {self.api.url} (gunicorn pid {self.api.pid}, log {self.api.log}); loading the model "
            "while the batch path runs")

    def _stop_api(self) -> None:
        code = self.api.stop()
        say(f"API stopped (gunicorn exit code {code}).")

    def wait_api_ready(self) -> None:
        seconds = self.api.wait_ready(self.args.ready_timeout)
        say(f"\nAPI ready: {self.api.url} (model loaded {seconds:.1f} s after the batch path)")

    def api_get(self, path: str) -> dict[str, Any]:
        answer = requests.get(f"{self.api.url}{path}", timeout=30)
        if answer.status_code != 200:
            raise YtSentimentError(f"GET {path}: HTTP {answer.status_code} {answer.text[:300]}")
        return answer.json()

    def api_post(self, path: str, body: dict[str, Any], ok: tuple[int, ...] = (200,)) -> dict[str, Any]:
        answer = requests.post(f"{self.api.url}{path}", json=body, timeout=120)
        if answer.status_code not in ok:
            raise YtSentimentError(f"POST {path}: HTTP {answer.status_code} {answer.text[:300]}")
        return answer.json()

    def analyze(self, comments: Path, oldest_first: list[str]) -> tuple[dict[str, dict[str, Any]], list[int]]:
        """Each video's comments through /analyze as the extension sends them (text, likes, author, timestamp),
        oldest video first, so the monitor's baseline can hold the first videos and its window the later ones.
        Returns the predictions by comment id and each video's number of comments, in the order sent."""
        frame = read_comments(comments)
        say("\nThe extension's request, once per video: POST /analyze {comments: [{text, likes, author, "
            "timestamp}], video_id}")
        predictions: dict[str, dict[str, Any]] = {}
        per_video = []
        for video_id in oldest_first:
            rows = frame[frame["video_id"] == video_id].sort_values(["published_at", "comment_id"])
            body = {"video_id": video_id, "comments": [
                {"text": r.text, "likes": int(r.like_count), "author": r.author_channel_id,
                 "timestamp": r.published_at.isoformat()} for r in rows.itertuples()]}
            answer = self.api_post("/analyze", body)
            for row, prediction in zip(rows.itertuples(), answer["predictions"], strict=True):
                predictions[row.comment_id] = prediction
            per_video.append(len(rows))
            s = answer["summary"]
            say(f"  {video_id}: {s['total']} comments, {s['counts']['1']} positive / {s['counts']['0']} neutral / "
                f"{s['counts']['-1']} negative, {s['other_languages']} in other languages "
                f"{s['languages'] or ''}".rstrip())
        return predictions, per_video

    def wait_for_log(self, expected: int) -> None:
        """The prediction log writes off the request path: wait until every prediction is in the database."""
        from sqlalchemy import func, select

        engine = make_engine(self.database_url)
        deadline = time.monotonic() + LOG_WAIT_SECONDS
        try:
            while True:
                with engine.connect() as conn:
                    logged = conn.execute(select(func.count()).select_from(Prediction)).scalar_one()
                if logged >= expected:
                    return
                if time.monotonic() > deadline:
                    raise YtSentimentError(f"the prediction log holds {logged} of {expected} predictions after "
                                           f"{LOG_WAIT_SECONDS:.0f} s; see {self.api.log}")
                time.sleep(0.2)
        finally:
            engine.dispose()

    def feedback(self, predictions: dict[str, dict[str, Any]], labels: dict[str, int]) -> int:
        """One English comment in ``FEEDBACK_EVERY`` gets the label its phrase was written with, as a viewer
        correcting (or confirming) the extension's badge would send it."""
        chosen = [(cid, label) for cid, label in labels.items()
                  if cid in predictions and predictions[cid].get("language_supported", True)][::FEEDBACK_EVERY]
        agree = 0
        for i, (cid, label) in enumerate(chosen):
            self.api_post("/feedback", {"prediction_id": predictions[cid]["prediction_id"], "label": label,
                                        "client_id": f"demo-viewer-{i % VIEWERS:02d}"}, ok=(200, 201))
            agree += predictions[cid]["sentiment"] == label
        say(f"\nPOST /feedback: {len(chosen)} viewers' labels (the sentiment each synthetic comment was written "
            f"with); the model agreed with {agree} of them")
        return len(chosen)

    def monitor(self, info: dict[str, Any], baseline: int, n_predictions: int, n_feedback: int) -> Path:
        """``ytsentiment monitor`` on the demo's database, its windows sized for a few hundred predictions: the
        baseline is the first ``baseline`` predictions (whole videos: a request split between baseline and window
        would leave the rest of it out of both), the window the rest."""
        project = config.load_params(self.args.params)
        params = dataclasses.replace(
            project.monitor, baseline_size=baseline, window_size=n_predictions - baseline,
            min_predictions=min(50, n_predictions - baseline), min_feedback=max(1, min(20, n_feedback)),
            max_drift_rows=n_predictions, test_split=None)
        params_path = self.out / "monitor-params.yaml"
        params_path.write_text(yaml.safe_dump({**project.raw, "monitor": dataclasses.asdict(params)},
                                              sort_keys=False),
                               encoding="utf-8")
        say(f"\nmonitor: demo-sized windows in {params_path} (baseline: the first {baseline} predictions, window: "
            f"the {n_predictions - baseline} after them; at least {params.min_feedback} feedback rows)")
        out = self.out / "monitor"
        verb("monitor", "ytsentiment.monitoring.cli", [
            "--name", str(info["name"]), "--model-version", str(info["version"]), "--params", str(params_path),
            "--out", str(out), "--database-url", self.database_url, "--test-split", "none", "--no-mlflow"])
        return out

    def explain(self, report: Path, monitor_report: Path, handle: str) -> None:
        env = self.standin.env()
        say(f"""
channel report: {report.resolve()}
monitor report: {monitor_report.resolve()}
prediction log: {self.database_url}

Chrome extension against this demo's API:
  1. chrome://extensions -> turn on Developer mode -> Load unpacked -> {repo_root() / 'chrome-extension'}
  2. its options page (opens on install; else right-click the icon -> Options): Sentiment API URL = {self.api.url}
     -> Save -> Check API (loopback needs no permission prompt; CORS allows the extension's fixed id).
  3. The extension cannot be pointed at the YouTube stand-in: it always reads comments from
     https://www.googleapis.com/youtube/v3 (fixed in chrome-extension/lib/youtube.js; the options have no field
     for it). To see it work, enter your own YouTube Data API v3 key in its options and open any YouTube video:
     the comments come from YouTube, their sentiment from this demo's API.

The stand-in answers anything that takes YOUTUBE_API_BASE_URL, e.g. in another terminal:
  YOUTUBE_API_BASE_URL={env['YOUTUBE_API_BASE_URL']} YOUTUBE_API_KEY={env['YOUTUBE_API_KEY']} \\
    ytsentiment collect --channel {handle} --out /tmp/demo-comments
The API: curl -s {self.api.url}/predict -H 'Content-Type: application/json' -d '{{"comments": ["Loved it!"]}}'

demo ready in {time.monotonic() - self.started:.0f} s: API {self.api.url} · YouTube stand-in {self.standin.base_url}""")

    def serve_until_stopped(self) -> None:
        """Sleep until a signal (raised as Interrupted); fail if the API dies meanwhile."""
        while True:
            if self.api.process.poll() is not None:
                raise YtSentimentError(f"the API exited with code {self.api.process.returncode} while serving; "
                                       f"see {self.api.log}")
            time.sleep(0.5)
