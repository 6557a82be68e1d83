"""The prediction log (``storage.spool``) on both back ends: rows spooled by workers and loaded by the writer, a
database outage under load that loses nothing, a killed writer or worker, the spool's budget, replays.

The outage lasts OUTAGE_SECONDS (default 3; ``make test-outage`` runs it for 60 s): while the database is down the
writer only retries, so a longer outage only means more segments waiting, which the budget test covers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from support.log_writer import running_writer as writer

from ytsentiment.storage.db import make_engine
from ytsentiment.storage.models import Prediction, ShadowPrediction
from ytsentiment.storage.rows import prediction_row
from ytsentiment.storage.spool import Spool, SpoolWriter, encode, read_stats

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OUTAGE_SECONDS = float(os.environ.get("OUTAGE_SECONDS", "3"))
REPO = Path(__file__).resolve().parents[2]


def served(start: int, n: int) -> tuple[bytes, int]:
    """One request of ``n`` comments (ids ``start`` ...) as the API spools it, and its row count."""
    return encode({"at": T0.isoformat(), "model": "ytsentiment", "version": "4", "video": "dQw4w9WgXcQ",
                   "keep_text": True, "ids": [uid(i) for i in range(start, start + n)],
                   "texts": [f"comment {i} so good 👍" for i in range(start, start + n)], "sentiments": [1] * n,
                   "proba": [[0.1, 0.2, 0.7]] * n, "languages": ["en"] * n}), n


def uid(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def stored(url: str) -> list[str]:
    from sqlalchemy import select

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.scalars(select(Prediction.id)))
    finally:
        engine.dispose()


class Tally:
    def __init__(self) -> None:
        self.total = 0

    def __call__(self, n: int) -> None:
        self.total += n


def make_spool(directory: Path, **overrides) -> Spool:
    options = {"budget_bytes": 1 << 30, "segment_bytes": 1 << 20, "segment_seconds": 0.1, **overrides}
    return Spool(directory, **options)


def test_spooled_rows_are_loaded_with_their_facts(db_url, tmp_path):
    spool = make_spool(tmp_path / "spool")
    with writer(tmp_path / "spool", db_url):
        for start in (0, 40, 80):
            assert spool.append(*served(start, 40))
        assert spool.flush(60)
        assert spool.stats() == {"written": 120, "dropped": 0, "queued": 0, "healthy": True}
    assert sorted(stored(db_url)) == [uid(i) for i in range(120)]
    from sqlalchemy import select

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            got = dict(conn.execute(select(Prediction.__table__).where(Prediction.id == uid(7))).mappings().one())
    finally:
        engine.dispose()
    expected = prediction_row(text="comment 7 so good 👍", sentiment=1, proba=[0.1, 0.2, 0.7], model_name="ytsentiment",
                              model_version="4", created_at=T0, log_text=True, prediction_id=uid(7),
                              video_id="dQw4w9WgXcQ", language="en")
    assert got == expected
    assert list((tmp_path / "spool").glob("*.seg")) == []
    spool.close()


def test_a_segment_loaded_again_after_a_crash_adds_no_duplicate_and_is_counted_once(db_url, tmp_path):
    """A writer killed after its commit, before it counted (or before it deleted) the segment: the successor
    loads it again; ON CONFLICT DO NOTHING keeps one copy, writer.json counts it once."""
    directory = tmp_path / "spool"
    spool = make_spool(directory, segment_seconds=3600)
    spool.append(*served(0, 30))
    spool.flush(0)  # closes the segment; no writer yet
    [segment] = directory.glob("*.seg")
    data = segment.read_bytes()
    engine = make_engine(db_url)
    try:
        assert SpoolWriter(directory, engine).load_ready()
        counted = (directory / "writer.json").read_text()
        segment.write_bytes(data)  # killed between counting and deleting
        assert SpoolWriter(directory, engine).load_ready()
        assert read_stats(directory)["written"] == 30
        segment.write_bytes(data)  # killed between commit and counting
        (directory / "writer.json").write_text(json.dumps({**json.loads(counted), "written": 0, "last": ""}))
        assert SpoolWriter(directory, engine).load_ready()
    finally:
        engine.dispose()
    assert read_stats(directory) == {"written": 30, "shadow_written": 0, "rejected": 0, "healthy": True,
                                     "last": segment.name}
    assert sorted(stored(db_url)) == [uid(i) for i in range(30)]
    spool.close()


def test_the_challengers_line_may_come_first_and_loads_once(db_url, tmp_path):
    """A challenger's answers (``kind: shadow``) reach ``shadow_predictions`` keyed by production's ids, whichever line
    the segment holds first; loaded again, they add no duplicate and are counted once (``shadow_written``)."""
    directory = tmp_path / "spool"
    spool = make_spool(directory, segment_seconds=3600)
    spool.append(encode({"kind": "shadow", "at": T0.isoformat(), "model": "ytsentiment", "version": "5", "ms": 1.5,
                         "ids": [uid(0), uid(1)], "sentiments": [-1, 0], "proba": [[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]]}),
                 2)
    spool.append(*served(0, 2))
    spool.flush(0)
    [segment] = directory.glob("*.seg")
    data = segment.read_bytes()
    engine = make_engine(db_url)
    try:
        assert SpoolWriter(directory, engine).load_ready()
        segment.write_bytes(data)  # a successor loads it again (killed before deleting it)
        assert SpoolWriter(directory, engine).load_ready()
        with engine.connect() as conn:
            shadow = conn.execute(select(ShadowPrediction.__table__).order_by(ShadowPrediction.prediction_id)).all()
    finally:
        engine.dispose()
    assert [(r.prediction_id, r.model_version, r.sentiment, r.confidence, r.latency_ms) for r in shadow] == [
        (uid(0), "5", -1, 0.7, 1.5), (uid(1), "5", 0, 0.6, 1.5)]
    assert sorted(stored(db_url)) == [uid(0), uid(1)]
    stats = read_stats(directory)
    assert (stats["written"], stats["shadow_written"]) == (2, 2)  # counted once
    spool.close()


def test_a_database_outage_under_load_loses_nothing(db_url, tmp_path, outage, caplog):
    directory = tmp_path / "spool"
    spool = make_spool(directory)
    ids, stop = [], threading.Event()

    def serve():  # one request of 20 comments every 10 ms for the whole outage
        while not stop.is_set():
            line, n = served(len(ids), 20)
            assert spool.append(line, n)
            ids.extend(uid(i) for i in range(len(ids), len(ids) + n))
            time.sleep(0.01)

    with writer(directory, db_url) as loader:
        load = threading.Thread(target=serve)
        with outage(db_url):
            load.start()
            time.sleep(OUTAGE_SECONDS)
            assert not loader.stats["healthy"] and stored_while_down(directory) > 0
        time.sleep(0.5)  # and a little load once it is back
        stop.set()
        load.join()
        assert spool.flush(120)
    assert sorted(stored(db_url)) == sorted(ids)
    assert spool.stats() == {"written": len(ids), "dropped": 0, "queued": 0, "healthy": True}
    warnings = [r.getMessage() for r in caplog.records if r.name == "ytsentiment.storage.spool" and r.levelno >= 30]
    assert len(warnings) == 1 and "rows wait in" in warnings[0]  # once per outage
    print(f"outage of {OUTAGE_SECONDS:g} s under load: {len(ids)} rows served, all stored, none dropped")
    spool.close()


def stored_while_down(directory: Path) -> int:
    """Bytes waiting in closed or open segments."""
    return sum(p.stat().st_size for p in directory.glob("*.seg"))


def test_a_killed_writer_s_successor_loads_what_is_left_without_duplicates(db_url, tmp_path):
    directory = tmp_path / "spool"
    spool = make_spool(directory, segment_bytes=1)  # a segment per request
    for start in range(0, 30_000, 100):
        spool.append(*served(start, 100))
    spool.flush(0)
    env = {**os.environ, "PREDICTION_LOG_SPOOL_DIR": str(directory), "DATABASE_URL": db_url,
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-m", "ytsentiment.cli", "log-writer"], env=env)
    try:
        deadline = time.monotonic() + 120
        while read_stats(directory)["written"] < 2_000 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    left = len(list(directory.glob("*.seg")))
    assert 0 < left < 300, left  # killed in the middle of its work
    with writer(directory, db_url):
        assert spool.flush(120)
    ids = stored(db_url)
    assert len(ids) == len(set(ids)) == 30_000
    assert read_stats(directory)["written"] == 30_000  # counted once, across the kill
    print(f"writer killed with {left} of 300 segments left: the successor loaded them")
    spool.close()


KILLED_WORKER = """
import os, signal, sys
sys.path[:0] = [sys.argv[2]]
from test_spool import make_spool, served
spool = make_spool(sys.argv[1], segment_seconds=3600)  # its segment would stay open for an hour
for start in range(0, 50, 10):
    spool.append(*served(start, 10))
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_worker_s_appended_rows_are_loaded(db_url, tmp_path):
    directory = tmp_path / "spool"
    worker = subprocess.run([sys.executable, "-c", KILLED_WORKER, str(directory), str(Path(__file__).parent)],
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                [str(REPO / "src"), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])})
    assert worker.returncode == -signal.SIGKILL
    with writer(directory, db_url):
        deadline = time.monotonic() + 60
        while len(stored(db_url)) < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert sorted(stored(db_url)) == [uid(i) for i in range(50)]


def test_past_the_budget_rows_are_dropped_and_counted_exactly(db_url, tmp_path):
    directory = tmp_path / "spool"
    requests = [served(start, 10) for start in range(0, 100, 10)]
    budget = sum(len(line) for line, _ in requests[:3])  # room for three requests, exactly
    dropped = Tally()
    spool = make_spool(directory, budget_bytes=budget, segment_bytes=budget // 2, on_dropped=dropped)
    results = [spool.append(*request) for request in requests]  # the writer is not running
    assert results == [True] * 3 + [False] * 7
    assert spool.dropped == dropped.total == 70
    with writer(directory, db_url):
        assert spool.flush(60)
        time.sleep(1.0)  # a full spool is scanned again at most once a second
        assert spool.append(*served(100, 10))  # room again once loaded
        assert spool.flush(60)
    stats = spool.stats()
    assert sorted(stored(db_url)) == [uid(i) for i in [*range(30), *range(100, 110)]]
    assert stats["written"] + stats["dropped"] == 110
    spool.close()


def test_lines_that_cannot_be_read_are_kept_aside_and_counted(db_url, tmp_path):
    directory = tmp_path / "spool"
    directory.mkdir()
    good, _ = served(0, 5)
    (directory / "00000000000000000001-1.seg").write_bytes(good + b'{"not": "a request"}\n' + good[:30])
    engine = make_engine(db_url)
    try:
        assert SpoolWriter(directory, engine).load_ready()
    finally:
        engine.dispose()
    assert sorted(stored(db_url)) == [uid(i) for i in range(5)]  # the torn last line (no newline) is skipped
    assert read_stats(directory)["rejected"] == 1
    assert (directory / "rejected" / "00000000000000000001-1.jsonl").read_text() == '{"not": "a request"}\n'


def test_a_second_writer_waits_for_the_first(db_url, tmp_path):
    directory = tmp_path / "spool"
    with writer(directory, db_url) as first, writer(directory, db_url) as second:
        spool = make_spool(directory)
        spool.append(*served(0, 10))
        assert spool.flush(60)
        time.sleep(0.2)
        assert first.stats["written"] + second.stats["written"] == 10
        assert 0 in (first.stats["written"], second.stats["written"])
    shutil.rmtree(directory)


def test_a_spooled_prediction_is_found_newest_first_and_too_much_spool_is_later_not_unknown(tmp_path):
    import pytest

    from ytsentiment.storage.errors import NotLoggedYet
    from ytsentiment.storage.spool import spooled_row

    directory = tmp_path / "spool"
    directory.mkdir()
    for name, start in (("1-1.seg", 0), ("2-1.seg", 10), ("3-1.seg", 20)):  # closed segments, oldest first
        line, _ = served(start, 10)
        (directory / name).write_bytes(line + b'{"torn": ')  # a worker killed mid-line: the last line is torn
    row = spooled_row(directory, uid(13))
    assert (row["id"], row["text"], row["sentiment"]) == (uid(13), "comment 13 so good 👍", 1)
    assert spooled_row(directory, uid(99)) is None
    newest_only = (directory / "3-1.seg").stat().st_size
    assert spooled_row(directory, uid(25), max_bytes=newest_only)["id"] == uid(25)  # the newest read first
    with pytest.raises(NotLoggedYet):  # it may be in a segment not read: "retry", not "unknown"
        spooled_row(directory, uid(3), max_bytes=newest_only)
