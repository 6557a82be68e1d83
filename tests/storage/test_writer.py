"""PredictionLog on both back ends: batches, a full queue, a database that is down or locked, recovery, shutdown."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from sqlalchemy import func, select

from ytsentiment.storage.db import make_engine
from ytsentiment.storage.models import Prediction
from ytsentiment.storage.writer import PredictionLog

WRITER = "ytsentiment.storage.writer"


def stored(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Prediction))


def records(caplog, level):
    return [r for r in caplog.records if r.name == WRITER and r.levelno == level]


class Tally:
    def __init__(self):
        self.calls = []

    def __call__(self, n):
        self.calls.append(n)

    @property
    def total(self):
        return sum(self.calls)


def test_rows_are_written_in_batches(engine, make_row):
    written = Tally()
    log = PredictionLog(engine, batch_size=10, flush_seconds=0.05, on_written=written)
    try:
        rows = [make_row(i) for i in range(25)]
        assert log.submit(rows[:12]) == 12
        assert log.submit(rows[12:]) == 13
        assert log.flush(30)
        assert (log.written, log.dropped, log.queued) == (25, 0, 0)
        assert stored(engine) == 25 and written.total == 25
        assert max(written.calls) <= 10  # no batch larger than batch_size
        with engine.connect() as conn:
            got = conn.execute(select(Prediction.__table__).where(Prediction.id == rows[7]["id"])).mappings().one()
        assert dict(got) == rows[7]
    finally:
        log.close()


def test_a_full_queue_drops_and_counts(engine, make_row):
    dropped = Tally()
    log = PredictionLog(engine, queue_size=3, batch_size=10, flush_seconds=0.01, on_dropped=dropped, start=False)
    assert log.submit([make_row(i) for i in range(5)]) == 3
    assert (log.queued, log.dropped, dropped.total) == (3, 2, 2)
    log.start()
    assert log.flush(30)
    assert (log.written, log.dropped, stored(engine)) == (3, 2, 3)
    log.close()


def test_unknown_keys_are_a_programming_error(engine, make_row):
    log = PredictionLog(engine, start=False)
    with pytest.raises(ValueError, match="unknown keys"):
        log.submit([{**make_row(1), "colour": "blue"}])
    assert log.queued == 0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nobody listens once the socket is closed


def test_database_unreachable_caller_never_waits(backend, tmp_path, make_row, caplog):
    url = {"sqlite": f"sqlite:///{tmp_path}/no-such-dir/x.db",
           "postgresql": f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/x"}[backend]
    engine = make_engine(url, timeout=1)
    dropped = Tally()
    log = PredictionLog(engine, batch_size=4, flush_seconds=0.01, max_retries=2, retry_seconds=0.01,
                        on_dropped=dropped)
    caplog.set_level(logging.INFO, logger=WRITER)
    try:
        started = time.perf_counter()
        for i in range(0, 20, 2):
            log.submit([make_row(i), make_row(i + 1)])
        assert time.perf_counter() - started < 0.5  # 10 requests; nothing waited on the database
        assert log.flush(60)
        assert (log.written, log.dropped, dropped.total, log.healthy) == (0, 20, 20, False)
        (warning,) = records(caplog, logging.WARNING)  # once per outage, not per batch
        assert "cannot write to" in warning.getMessage() and "once per outage" in warning.getMessage()
    finally:
        log.close(timeout=5)
        engine.dispose()


def test_outage_then_recovery(db_url, outage, make_row, caplog):
    engine = make_engine(db_url, timeout=0.3)  # SQLite gives up on a held lock after 0.3 s
    log = PredictionLog(engine, batch_size=5, flush_seconds=0.01, max_retries=1, retry_seconds=0.01)
    caplog.set_level(logging.INFO, logger=WRITER)
    try:
        log.submit([make_row(i) for i in range(3)])  # the pool now holds a connection the outage will break
        assert log.flush(30) and log.written == 3
        with outage(db_url):
            started = time.perf_counter()
            log.submit([make_row(i) for i in range(3, 13)])
            assert time.perf_counter() - started < 0.5
            assert log.flush(60)
            assert (log.written, log.dropped) == (3, 10)
        log.submit([make_row(i) for i in range(13, 20)])
        assert log.flush(60)
        assert (log.written, log.dropped, log.healthy) == (10, 10, True)
        assert stored(engine) == 10
        assert len(records(caplog, logging.WARNING)) == 1
        (info,) = records(caplog, logging.INFO)
        assert "again" in info.getMessage() and "10 rows were dropped" in info.getMessage()
    finally:
        log.close()
        engine.dispose()


def test_rows_the_database_refuses_do_not_sink_the_batch(engine, make_row, insert_rows, caplog):
    insert_rows(engine, [make_row(1)])
    log = PredictionLog(engine, batch_size=10, flush_seconds=0.05)
    caplog.set_level(logging.INFO, logger=WRITER)
    try:
        log.submit([make_row(0), make_row(1), make_row(2)])  # row 1's id is taken
        assert log.flush(30)
        assert (log.written, log.dropped, log.healthy, stored(engine)) == (2, 1, True, 3)
        (warning,) = records(caplog, logging.WARNING)
        assert "1 rows refused" in warning.getMessage()
    finally:
        log.close()


def test_close_writes_what_is_queued(engine, make_row):
    log = PredictionLog(engine, batch_size=100, flush_seconds=3600)  # only close() ends the wait for a full batch
    log.submit([make_row(i) for i in range(7)])
    started = time.perf_counter()
    stats = log.close(timeout=30)
    assert time.perf_counter() - started < 20
    assert stats == {"written": 7, "dropped": 0, "queued": 0, "healthy": True}
    assert stored(engine) == 7
    assert log.submit([make_row(8)]) == 0 and log.dropped == 1  # closed: counted, not raised


def test_close_gives_up_on_a_stuck_database(db_url, outage, make_row):
    engine = make_engine(db_url, timeout=30)  # a write would wait 30 s on the lock
    log = PredictionLog(engine, batch_size=2, flush_seconds=0.01, max_retries=0, start=False)
    log.submit([make_row(i) for i in range(6)])
    with outage(db_url):
        log.start()
        started = time.perf_counter()
        stats = log.close(timeout=1)
        assert time.perf_counter() - started < 5
    assert stats["written"] == 0 and stats["dropped"] >= 4  # the batch in flight is settled by the thread later
    engine.dispose()


def test_a_failing_hook_does_not_stop_the_writer(engine, make_row):
    def boom(n):
        raise RuntimeError("metrics backend down")

    log = PredictionLog(engine, batch_size=2, flush_seconds=0.01, on_written=boom)
    log.submit([make_row(i) for i in range(5)])
    assert log.flush(30) and log.written == 5
    log.close()


def test_an_unexpected_error_drops_the_batch_and_the_writer_goes_on(engine, make_row, caplog, monkeypatch):
    dropped = Tally()
    log = PredictionLog(engine, batch_size=3, flush_seconds=0.01, on_dropped=dropped, start=False)
    real_insert, calls = log._insert, []

    def insert(rows):
        calls.append(len(rows))
        if len(calls) == 1:
            raise TypeError("must be real number, not NoneType")  # e.g. a bad driver argument
        real_insert(rows)

    monkeypatch.setattr(log, "_insert", insert)
    log.submit([make_row(i) for i in range(3)])
    log.start()
    assert log.flush(30)
    log.submit([make_row(i) for i in range(3, 5)])
    assert log.flush(30)
    assert (log.written, log.dropped, dropped.total, stored(engine)) == (2, 3, 3, 2)
    assert calls[0] == 3  # not retried
    assert any("failed unexpectedly" in r.getMessage() for r in records(caplog, logging.ERROR))
    log.close()


class FailingInsert:
    """Stands in for ``PredictionLog._insert``: the first ``failures`` calls raise what a database that is down or
    locked raises (an OperationalError), later ones write for real. Counts the calls (attempts)."""

    def __init__(self, log, failures: int):
        from sqlalchemy.exc import OperationalError

        self.real, self.failures, self.calls = log._insert, failures, 0
        self.error = OperationalError("INSERT INTO predictions", {}, Exception("database is locked"))

    def __call__(self, rows):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        self.real(rows)


@pytest.mark.parametrize(("max_retries", "failures", "attempts", "written"), [
    (2, 1, 2, 3),   # fails once, written on the first retry
    (2, 2, 3, 3),   # fails twice, written on the last retry
    (2, 3, 3, 0),   # fails three times: 1 + max_retries attempts, then dropped
    (0, 1, 1, 0),   # max_retries=0: one attempt, no retry
    (0, 0, 1, 3),   # max_retries=0 and a healthy database: written at once
], ids=["retry-succeeds", "last-retry-succeeds", "retries-exhausted", "no-retries", "no-retries-needed"])
def test_a_failed_batch_is_retried_max_retries_times(engine, make_row, monkeypatch, caplog, max_retries, failures,
                                                     attempts, written):
    dropped = Tally()
    log = PredictionLog(engine, batch_size=3, flush_seconds=0.01, max_retries=max_retries, retry_seconds=0.001,
                        on_dropped=dropped, start=False)
    insert = FailingInsert(log, failures)
    monkeypatch.setattr(log, "_insert", insert)
    caplog.set_level(logging.INFO, logger=WRITER)
    try:
        log.submit([make_row(i) for i in range(3)])  # one batch
        log.start()
        assert log.flush(30)
        assert insert.calls == attempts
        assert (log.written, log.dropped, dropped.total, stored(engine)) == (written, 3 - written, 3 - written,
                                                                             written)
        assert log.healthy is bool(written)
        assert len(records(caplog, logging.WARNING)) == (0 if written else 1)  # a retried success is no outage
    finally:
        log.close()


def test_during_a_known_outage_a_batch_is_tried_once(engine, make_row, monkeypatch):
    """The first batch of an outage gets 1 + max_retries attempts; once the outage is known, the next gets one."""
    log = PredictionLog(engine, batch_size=3, flush_seconds=0.01, max_retries=2, retry_seconds=0.001, start=False)
    insert = FailingInsert(log, failures=4)
    monkeypatch.setattr(log, "_insert", insert)
    try:
        log.submit([make_row(i) for i in range(3)])
        log.start()
        assert log.flush(30) and insert.calls == 3 and log.healthy is False
        log.submit([make_row(i) for i in range(3, 6)])
        assert log.flush(30) and insert.calls == 4  # one attempt, no retries
        log.submit([make_row(i) for i in range(6, 9)])
        assert log.flush(30) and insert.calls == 5  # the 5th attempt writes: the outage is over
        assert (log.written, log.dropped, log.healthy, stored(engine)) == (3, 6, True, 3)
    finally:
        log.close()
