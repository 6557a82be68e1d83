"""``running_writer(spool_dir, url)``: the prediction log's writer (``storage.spool.SpoolWriter``) in a thread,
polling every 20 ms and retrying every 100 ms, for the length of a ``with`` block (tests of the log and the API)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def running_writer(directory: Path | str, url: str):
    from ytsentiment.storage.db import make_engine
    from ytsentiment.storage.spool import SpoolWriter

    engine = make_engine(url, timeout=0.5)
    loader = SpoolWriter(directory, engine, poll_seconds=0.02, retry_seconds=0.1)
    stop = threading.Event()
    thread = threading.Thread(target=loader.run, args=(stop,), name="test-log-writer")
    thread.start()
    try:
        yield loader
    finally:
        stop.set()
        thread.join(60)
        engine.dispose()
