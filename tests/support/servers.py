"""Start-and-stop plumbing for the real servers the tests run (gunicorn, mlflow server) on loopback.

Each server runs in its own session (``start_new_session=True``), so stopping it signals its process group: the
master and its workers, and nothing else.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests


def wait_until_ok(url: str, proc: subprocess.Popen, log: Path, timeout: float, interval: float = 0.3) -> float:
    """Poll ``url`` until it answers 200; returns the seconds waited. Fails with the log's tail if the process dies
    or ``timeout`` passes."""
    start = time.monotonic()
    while True:
        if proc.poll() is not None:
            pytest.fail(f"the server exited with {proc.returncode} before {url} answered:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return time.monotonic() - start
        except requests.ConnectionError:
            pass
        if time.monotonic() - start > timeout:
            pytest.fail(f"{url} not 200 after {timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(interval)


def stop_group(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM the server's process group, SIGKILL it if it has not exited within ``timeout``."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
