"""LogProcess on both back ends: rows built and written by a child process, the bound in rows, counters from the
child's reports, a child killed mid-outage (its rows counted, a new child started), a worker that vanishes, bad rows.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime

import psutil
import pytest
from sqlalchemy import select
from test_writer import Tally, stored

from ytsentiment.storage.log_process import LogProcess, Served, build_rows
from ytsentiment.storage.models import Prediction
from ytsentiment.storage.rows import prediction_row

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def served(start: int, n: int, sentiment: int = 1) -> Served:
    return Served(created_at=T0, model_name="ytsentiment", model_version="4", video_id="dQw4w9WgXcQ",
                  texts=[f"comment {i} so good 👍" for i in range(start, start + n)],
                  sentiments=[sentiment] * n,
                  proba=[[0.1, 0.2, 0.7]] * n,
                  ids=[f"00000000-0000-4000-8000-{i:012d}" for i in range(start, start + n)],
                  languages=["en"] * n)


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_rows_are_built_and_written_by_the_child(db_url, engine):
    written, dropped = Tally(), Tally()
    log = LogProcess(db_url, log_text=True, flush_seconds=0.05, on_written=written, on_dropped=dropped)
    try:
        assert log.submit(served(0, 3))  # before start(): waits in the queue
        assert log.stats() == {"written": 0, "dropped": 0, "queued": 3, "healthy": True}
        log.start()
        assert log.submit(served(3, 97))
        assert log.flush(60)
        assert log.stats() == {"written": 100, "dropped": 0, "queued": 0, "healthy": True}
        assert (written.total, dropped.total) == (100, 0)
        assert stored(engine) == 100
        with engine.connect() as conn:
            query = select(Prediction.__table__).where(Prediction.id == served(7, 1).ids[0])
            got = conn.execute(query).mappings().one()
        expected = prediction_row(text="comment 7 so good 👍", sentiment=1, proba=[0.1, 0.2, 0.7],
                                  model_name="ytsentiment", model_version="4", created_at=T0, log_text=True,
                                  prediction_id=served(7, 1).ids[0], video_id="dQw4w9WgXcQ", language="en")
        assert dict(got) == expected
        child = log._child.process
    finally:
        stats = log.close(10)
    assert child.returncode == 0  # stopped by close(), not killed
    assert stats["written"] == 100 and stats["dropped"] == 0


def test_the_bound_is_in_rows_and_overflow_is_counted(db_url, engine):
    dropped = Tally()
    log = LogProcess(db_url, queue_size=5, flush_seconds=0.05, on_dropped=dropped)
    try:
        assert log.submit(served(0, 3))
        assert not log.submit(served(3, 3))  # 3 + 3 > 5 rows waiting: dropped whole, at once
        assert log.submit(served(6, 2))
        assert (log.stats()["queued"], log.dropped, dropped.total) == (5, 3, 3)
        log.start()
        assert log.flush(60)
        assert (log.written, log.dropped) == (5, 3) and stored(engine) == 5
    finally:
        log.close(10)


def test_rows_that_cannot_be_built_are_dropped_and_counted(db_url, engine):
    dropped = Tally()
    log = LogProcess(db_url, flush_seconds=0.05, on_dropped=dropped)
    log.start()
    try:
        assert log.submit(served(0, 4, sentiment=5))  # accepted here; the child refuses to build them
        assert log.submit(served(4, 2))
        assert log.flush(60)
        assert (log.written, log.dropped, dropped.total) == (2, 4, 4) and stored(engine) == 2
    finally:
        log.close(10)


def test_a_killed_child_is_counted_and_replaced(db_url, engine, outage, caplog):
    dropped = Tally()
    log = LogProcess(db_url, timeout=5.0, flush_seconds=0.05, on_dropped=dropped, restart_seconds=3600)
    log.start()
    try:
        with outage(db_url):  # the child holds its rows, waiting for the database
            assert log.submit(served(0, 10))
            wait_until(lambda: log._child.sent == 10)
            log._child.process.send_signal(signal.SIGKILL)
            wait_until(lambda: not log._child.alive)
        assert (log.dropped, dropped.total, log.written) == (10, 10, 0)
        warnings = [r.getMessage() for r in caplog.records
                    if r.name == "ytsentiment.storage.log_process" and r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "exited with code -9" in warnings[0] and "10 rows" in warnings[0]
        assert not log.stats()["healthy"]
        assert not log.submit(served(10, 2))  # no new child within restart_seconds: dropped and counted
        assert log.dropped == 12
        log.restart_seconds = 0.0
        assert log.submit(served(12, 3))  # a new child
        assert log.flush(60)
        assert (log.written, log.dropped) == (3, 12) and stored(engine) == 3
        assert log.stats()["healthy"]
    finally:
        log.close(10)


def test_close_counts_what_never_reached_a_child(db_url):
    dropped = Tally()
    log = LogProcess(db_url, on_dropped=dropped)  # never started (the schema step did not end)
    assert log.submit(served(0, 4))
    assert log.close(1) == {"written": 0, "dropped": 4, "queued": 0, "healthy": True}
    assert dropped.total == 4
    assert not log.submit(served(4, 1)) and log.dropped == 5  # closed: nothing more is taken


WORKER = textwrap.dedent("""
    import os, sys, time, json
    sys.path[:0] = json.loads(sys.argv[2])
    from test_log_process import served
    from ytsentiment.storage.log_process import LogProcess

    log = LogProcess(sys.argv[1], flush_seconds=30)  # a partial batch would wait 30 s: only the exit writes it
    log.start()
    log.submit(served(0, 10))
    while log._child.sent < 10:
        time.sleep(0.01)
    print(log._child.process.pid, flush=True)
    os._exit(0)  # no close(): the worker vanishes
""")


def test_a_child_whose_worker_vanished_writes_what_it_holds_and_exits(db_url, engine, tmp_path):
    here = os.path.dirname(__file__)
    paths = json.dumps([here, *sys.path])
    worker = subprocess.run([sys.executable, "-c", WORKER, db_url, paths], capture_output=True, text=True,
                            timeout=120, check=True)
    child_pid = int(worker.stdout.split()[-1])

    def gone() -> bool:  # orphaned, it may linger as a zombie if nobody reaps it: that counts as exited
        try:
            return psutil.Process(child_pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_until(gone, 60)
    assert stored(engine) == 10, worker.stderr


def test_build_rows_matches_prediction_row():
    rows = build_rows(served(0, 2), log_text=False)
    assert [r["id"] for r in rows] == served(0, 2).ids
    assert rows[0]["text"] is None and rows[0]["confidence"] == 0.7 and rows[0]["language"] == "en"


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_is_refused(url):
    with pytest.raises(ValueError, match="in-memory SQLite"):
        LogProcess(url)


def test_a_log_process_that_cannot_start_drops_and_counts(db_url, monkeypatch, caplog):
    dropped = Tally()
    monkeypatch.setattr(sys, "executable", "/nonexistent/python3")
    log = LogProcess(db_url, on_dropped=dropped, restart_seconds=3600)
    log.start()
    try:
        assert not log.submit(served(0, 3))
        assert (log.dropped, dropped.total, log.written) == (3, 3, 0)
        assert any("cannot start its process" in r.getMessage() for r in caplog.records
                   if r.name == "ytsentiment.storage.log_process" and r.levelno == logging.WARNING)
    finally:
        log.close(1)
