"""`ytsentiment demo`'s bad inputs (each one clear error, exit 2, nothing started) and its synthetic channel."""

from __future__ import annotations

import json
import socket
from collections import Counter
from pathlib import Path

import pytest

from ytsentiment import YtSentimentError
from ytsentiment.cli import main
from ytsentiment.demo.synthetic import MARKUP_COMMENT, demo_channel
from ytsentiment.demo.youtube_standin import KEY_INVALID_BODY

FIXTURES = Path(__file__).resolve().parents[1] / "extension" / "fixtures"


@pytest.fixture
def busy_port():
    """A loopback port something listens on for the test's duration."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def run_demo(caplog, *argv: str) -> tuple[int, str]:
    caplog.clear()
    code = main(["demo", "--no-wait", *argv])
    return code, caplog.text


@pytest.mark.parametrize("flag", ["--api-port", "--youtube-port"])
def test_a_port_in_use_is_refused_before_anything_starts(tmp_path, caplog, busy_port, flag):
    code, log = run_demo(caplog, flag, str(busy_port), "--out", str(tmp_path / "out"))
    assert code == 2
    assert f"{flag}: port {busy_port} on 127.0.0.1 is in use" in log
    assert not (tmp_path / "out").exists()


def test_a_folder_the_demo_did_not_make_is_refused(tmp_path, caplog):
    (tmp_path / "notes.txt").write_text("mine")
    code, log = run_demo(caplog, "--out", str(tmp_path))
    assert code == 2 and "is not empty and was not made by the demo" in log
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_model_directory_without_a_model_is_refused(tmp_path, caplog):
    code, log = run_demo(caplog, "--model-uri", str(tmp_path / "nothing"), "--out", str(tmp_path / "out"))
    assert code == 2 and "not an MLflow model directory" in log


def test_no_model_and_no_data_says_what_to_do(tmp_path, caplog, monkeypatch):
    def unreachable(sources, seed, *args, **kwargs):
        raise YtSentimentError(f"source '{sources[0].name}': not in the mirror and the URL cannot be reached")

    monkeypatch.setattr("ytsentiment.demo.model.ingest", unreachable)  # where the demo looks it up
    code, log = run_demo(caplog, "--sample-model", "--out", str(tmp_path / "out"))
    assert code == 2
    assert "the sample model's training data cannot be read" in log and "--model-uri" in log


def test_bad_numbers_are_refused(tmp_path, caplog):
    assert run_demo(caplog, "--workers", "0", "--out", str(tmp_path / "a"))[0] == 2
    code, log = run_demo(caplog, "--api-port", "70000", "--out", str(tmp_path / "b"))
    assert code == 2 and "not a TCP port" in log


def test_the_synthetic_channel_is_deterministic_and_demo_sized():
    one, two = demo_channel(), demo_channel()
    assert [v.threads for v in one.videos] == [v.threads for v in two.videos]
    assert [v.replies for v in one.videos] == [v.replies for v in two.videos]
    assert demo_channel(8).videos[0].threads != one.videos[0].threads
    assert 3 <= len(one.videos) <= 5 and 200 <= one.n_comments <= 500
    comments = [c for v in one.videos for c in [*v.threads.values(), *(r for rs in v.replies.values() for r in rs)]]
    months = {c["snippet"]["publishedAt"][:7] for c in comments}
    assert len(months) >= 5  # several months
    assert any(len(r) > 5 for v in one.videos for r in v.replies.values())  # comments.list gets paged
    assert sum(not c["snippet"]["textOriginal"].isascii() for c in comments) >= 5  # other languages, emoji
    assert Counter(one.labels.values()).keys() == {-1, 0, 1}
    top = max(comments, key=lambda c: c["snippet"]["likeCount"])
    assert top["snippet"]["textOriginal"] == MARKUP_COMMENT  # the channel report's first positive comment
    assert top["snippet"]["textDisplay"].startswith("&lt;script&gt;")  # plainText escaping, as YouTube does


def test_the_stand_in_answers_a_bad_key_like_youtube():
    fixture = json.loads((FIXTURES / "error-key-invalid.json").read_text(encoding="utf-8"))
    assert KEY_INVALID_BODY == fixture
