"""Feedback export on both back ends: hand-built votes -> the exact CSV and sidecar; determinism; the CLI verbs."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from ytsentiment import cli
from ytsentiment.storage.export import export_feedback, select_rows
from ytsentiment.storage.feedback import record_feedback

T = datetime(2026, 3, 1, tzinfo=UTC)
QUOTED = 'c\'est bien, "quoted"'


def sha(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


@pytest.fixture
def votes(engine, make_row, insert_rows):
    """15 feedback rows from clients a-e (see the expectations in the tests)."""
    p1, p2 = make_row(1, text="great video"), make_row(2, text="great video")
    p3 = make_row(3, text="hidden", log_text=False)
    insert_rows(engine, [p1, p2, p3])
    minute = iter(range(100))

    def vote(client, label, **about):
        record_feedback(engine, label=label, client_id=client, now=T + timedelta(minutes=next(minute)), **about)

    vote("a", 1, prediction_id=p1["id"])
    vote("b", 1, text="great video")
    vote("e", -1, prediction_id=p2["id"])
    vote("e", 1, text="great video")       # e's later vote on the same text replaces the earlier one
    vote("a", 0, text="meh")
    vote("b", -1, text="meh")              # a tie: dropped
    for client, label in (("a", -1), ("b", -1), ("c", 0)):
        vote(client, label, text="awful")  # 2 of 3 agree
    vote("c", 1, text=QUOTED)
    vote("c", 0, prediction_id=p3["id"])   # no text anywhere: cannot be exported
    for i in range(1, 5):
        vote("d", 0, text=f"d{i}")         # 4 rows from d; the cap is 3
    return engine


def read(path):
    return path.read_bytes(), json.loads(path.with_suffix(".json").read_text())


def test_export_strict_agreement(votes, tmp_path):
    report = export_feedback(votes, tmp_path, max_per_client=3, min_agreement=1.0, burst=10, day=date(2026, 3, 2))
    data, sidecar = read(tmp_path / "feedback-2026-03-02.csv")
    assert data.decode() == ('text,label\n"c\'est bien, ""quoted""",1\nd1,0\nd2,0\nd3,0\ngreat video,1\n')
    assert sidecar == report
    assert sidecar == {
        "csv": "feedback-2026-03-02.csv", "sha256": hashlib.sha256(data).hexdigest(), "date": "2026-03-02",
        "rows": 5, "labels": {"0": 3, "1": 2}, "max_per_client": 3, "min_agreement": 1.0, "burst": 10,
        "feedback_rows": 15, "voters": 5, "clients_capped": 1,
        "dropped": {"no_text": 1, "repeated_votes": 1, "in_bursts": 0, "over_client_cap": 1, "conflicting_votes": 5,
                    "conflicting_texts": 2},
        "conflicting_sha256": sorted([sha("meh"), sha("awful")]),
    }
    frame = pd.read_csv(tmp_path / "feedback-2026-03-02.csv")  # reads back like the human sets
    assert list(frame.columns) == ["text", "label"] and frame["label"].tolist() == [1, 0, 0, 0, 1]
    assert frame["text"][0] == QUOTED


def test_export_majority(votes, tmp_path):
    report = export_feedback(votes, tmp_path, max_per_client=3, min_agreement=0.6, burst=10, day=date(2026, 3, 2))
    data, _ = read(tmp_path / "feedback-2026-03-02.csv")
    assert data.decode().splitlines()[:2] == ["text,label", "awful,-1"]
    assert report["dropped"]["conflicting_texts"] == 1 and report["conflicting_sha256"] == [sha("meh")]


def test_export_at_the_lowest_agreement_still_drops_a_tie(votes, tmp_path):
    """min_agreement=0.5: "meh" (1 vote to 1) has a share of exactly 0.5, enough, but it is a tie: dropped."""
    report = export_feedback(votes, tmp_path, max_per_client=3, min_agreement=0.5, burst=10, day=date(2026, 3, 2))
    data, _ = read(tmp_path / "feedback-2026-03-02.csv")
    assert data.decode().splitlines()[:2] == ["text,label", "awful,-1"]
    assert "meh" not in data.decode()
    assert report["dropped"]["conflicting_texts"] == 1 and report["conflicting_sha256"] == [sha("meh")]
    assert report["dropped"]["conflicting_votes"] == 2 and report["rows"] == 6


def _vote(i: int, client: str, text: str, label: int, at: datetime = T, address: str | None = None) -> dict:
    return {"id": i, "client_id": client, "text_sha256": sha(text), "label": label, "at": at, "text": text,
            "address": address}


@pytest.mark.parametrize(("labels", "min_agreement", "exported"), [
    ([1, 1, 0, -1], 0.5, 1),            # 2 of 4 (share exactly 0.5), no tie: exported
    ([1, 1, 0, -1], 0.5 + 1e-9, None),  # the same share just under the bar: dropped
    ([1, 1, 0, 0], 0.5, None),          # 2 to 2: share 0.5 too, but a tie: dropped
    ([-1, -1, 1], 2 / 3, -1),           # 2 of 3 at min_agreement 2/3: exactly at the bar, exported
], ids=["half-no-tie", "half-under-bar", "two-way-tie", "two-thirds-on-bar"])
def test_agreement_boundary_and_ties(labels, min_agreement, exported):
    votes = [_vote(i, f"client{i}", "one text", label) for i, label in enumerate(labels)]
    rows, report = select_rows(votes, max_per_client=3, min_agreement=min_agreement, burst=10)
    assert rows == ([] if exported is None else [("one text", exported)])
    assert report["dropped"]["conflicting_votes"] == (0 if exported is not None else len(labels))


def test_a_voter_is_the_address_when_there_is_one():
    """Two ids on one address are one voter: the address's latest label counts once; without an address each id
    votes."""
    votes = [_vote(0, "id-one", "text", 1, address="aaaa"), _vote(1, "id-two", "text", 1, address="aaaa"),
             _vote(2, "id-three", "text", -1, address="bbbb")]
    rows, report = select_rows(votes, max_per_client=3, min_agreement=0.6, burst=10)
    assert rows == [] and report["voters"] == 2  # 1 to 1 between two addresses: a tie, dropped
    assert report["dropped"]["repeated_votes"] == 1
    no_address = [{**v, "address": None} for v in votes]
    rows, report = select_rows(no_address, max_per_client=3, min_agreement=0.6, burst=10)
    assert rows == [("text", 1)] and report["voters"] == 3  # 2 of 3 ids agree


@pytest.mark.parametrize(("gaps", "kept"), [
    ([20, 20, 20], 4),                  # 4 votes within 60 s: exactly the burst limit, kept
    ([15, 15, 15, 15], 0),              # 5 votes within 60 s (the span includes both ends): every one dropped
    ([15, 15, 15, 16], 5),              # 5 votes over 61 s: no 60 s holds more than 4, all kept
    ([10, 10, 10, 10, 100, 10], 2),     # a burst of 5 dropped, the two calm votes after it kept
    ([61, 61, 61, 61], 5),              # a vote a minute: never a burst
], ids=["at-the-limit", "five-in-60s", "five-in-61s", "burst-then-calm", "slow"])
def test_votes_in_a_burst_are_dropped(gaps, kept):
    at, votes = T, []
    for i, gap in enumerate([0, *gaps]):
        at += timedelta(seconds=gap)
        votes.append(_vote(i, "flooder", f"text {i}", 1, at=at))
    rows, report = select_rows(votes, max_per_client=100, min_agreement=1.0, burst=4)
    assert len(rows) == kept
    assert report["dropped"]["in_bursts"] == len(votes) - kept


def test_export_is_deterministic(votes, tmp_path):
    for name in ("one", "two"):
        export_feedback(votes, tmp_path / name, max_per_client=3, min_agreement=1.0, burst=10, day=date(2026, 3, 2))
    for suffix in (".csv", ".json"):
        assert (tmp_path / "one" / f"feedback-2026-03-02{suffix}").read_bytes() == \
            (tmp_path / "two" / f"feedback-2026-03-02{suffix}").read_bytes()


def test_export_empty(engine, tmp_path):
    report = export_feedback(engine, tmp_path, max_per_client=3, min_agreement=1.0, burst=10, day=date(2026, 3, 2))
    assert (tmp_path / "feedback-2026-03-02.csv").read_text() == "text,label\n" and report["rows"] == 0


# ---- the CLI verbs ----------------------------------------------------------------------------------------------

def test_cli_feedback_export(votes, db_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("FEEDBACK_EXPORT_MAX_PER_CLIENT", "3")
    assert cli.main(["feedback", "export", "--out", str(tmp_path), "--date", "2026-03-02"]) == 0
    assert "exported 5 rows" in capsys.readouterr().out
    assert json.loads((tmp_path / "feedback-2026-03-02.json").read_text())["max_per_client"] == 3


def test_cli_db_upgrade_twice(empty_url, monkeypatch, capsys):
    from ytsentiment.storage.migrate import head_revision

    monkeypatch.setenv("DATABASE_URL", empty_url)
    assert cli.main(["db-upgrade"]) == 0
    assert cli.main(["db-upgrade"]) == 0
    assert capsys.readouterr().out.count(f"is at revision {head_revision()}") == 2


def test_cli_purge(engine, db_url, make_row, insert_rows, monkeypatch, capsys, caplog):
    now = datetime.now(UTC)
    insert_rows(engine, [make_row(1, created_at=now - timedelta(days=3)), make_row(2, created_at=now)])
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("PREDICTION_LOG_RETENTION_DAYS", "2")
    assert cli.main(["purge", "--text-only"]) == 0
    assert "older than 2d" in capsys.readouterr().out
    assert cli.main(["purge", "--older-than", "48h"]) == 0
    assert "predictions deleted 1" in capsys.readouterr().out
    caplog.set_level(logging.ERROR)
    assert cli.main(["purge", "--older-than", "30"]) == 2
    assert "expected a positive number of days or hours" in caplog.text


def test_cli_refuses_a_database_without_schema(empty_url, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("DATABASE_URL", empty_url)
    caplog.set_level(logging.ERROR)
    assert cli.main(["feedback", "export", "--out", str(tmp_path)]) == 2
    assert "run `ytsentiment db-upgrade` first" in caplog.text
