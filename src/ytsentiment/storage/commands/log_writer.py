"""`ytsentiment log-writer`: load the API's prediction-log spool (PREDICTION_LOG_SPOOL_DIR) into DATABASE_URL.

One per host, beside the API's workers (gunicorn's master starts it; run it yourself when the writer lives in a
container of its own, with the spool directory on a volume both see). SIGTERM/SIGINT stop it after the segment
in hand. ``--parent PID``: also stop when that process is gone (gunicorn's master passes its own).
"""

from __future__ import annotations

import argparse
import os
import signal
import threading

from ytsentiment.logs import configure_logging
from ytsentiment.storage.db import make_engine
from ytsentiment.storage.settings import StorageSettings
from ytsentiment.storage.spool import SpoolWriter


def add_arguments(parser) -> None:
    parser.add_argument("--parent", type=int, default=None, help="stop when this process id is no longer the parent")


def run(args) -> int:
    configure_logging()
    settings = StorageSettings.from_env()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    writer = SpoolWriter(settings.spool_dir, make_engine(settings.database_url))
    thread = threading.Thread(target=writer.run, args=(stop,), name="log-writer")
    thread.start()
    while thread.is_alive() and not stop.wait(1.0):
        if args.parent is not None and os.getppid() != args.parent:
            stop.set()
    thread.join()
    return 0


if __name__ == "__main__":  # what gunicorn's master runs: no need for the whole CLI's imports
    cli = argparse.ArgumentParser(prog="ytsentiment log-writer")
    add_arguments(cli)
    raise SystemExit(run(cli.parse_args()))
