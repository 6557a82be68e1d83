"""Faults heal by themselves: after the SQLite file was read-only for a while, writes work again without a restart.

The episode runs in a child process that cannot override file permissions (as root: the DAC capabilities dropped
with setpriv), because root writes a read-only file regardless. The child keeps one Engine for its whole life, as a
gunicorn worker does; while the file is read-only its pool is emptied (as after a restart of the database or an
idle recycle), so the next connection is opened read-only, which SQLite keeps read-only for that connection's life.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

EPISODE = textwrap.dedent("""
    import glob, json, os, sys
    from ytsentiment.storage.db import make_engine
    from ytsentiment.storage.feedback import record_feedback
    from ytsentiment.storage.migrate import upgrade

    path = sys.argv[1]
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")

    def attempt(n):
        try:
            return record_feedback(engine, label=1, client_id=f"client-{n}", text=f"comment {n}").status
        except Exception as exc:
            return type(exc).__name__

    def chmod(mode):  # the database and its WAL files, as an operator or a full disk would leave them
        for name in glob.glob(path + "*"):
            os.chmod(name, mode)

    outcomes = {"before": attempt(0)}
    engine.pool.dispose()
    chmod(0o444)
    outcomes["read_only"] = [attempt(n) for n in (1, 2)]
    chmod(0o644)
    outcomes["after"] = [attempt(n) for n in range(3, 8)]
    print(json.dumps(outcomes))
""")


def _unprivileged(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--", *command]


def test_a_read_only_episode_heals_on_the_next_attempt_without_a_restart(tmp_path):
    database = tmp_path / "db" / "ytsentiment.db"
    done = subprocess.run(_unprivileged([sys.executable, "-c", EPISODE, str(database)]), capture_output=True,
                          text=True, timeout=120, env=os.environ.copy())
    assert done.returncode == 0, done.stderr[-3000:]
    outcomes = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcomes["before"] == "created"
    assert outcomes["read_only"] == ["OperationalError", "OperationalError"], "the episode did not happen"
    after = outcomes["after"]
    # The connection that failed as read-only is discarded with its pool: at most one more attempt meets a
    # connection from before the file came back, every later one is written.
    assert after[1:] == ["created"] * 4, after


@pytest.mark.parametrize("code, discarded", [(8, True), (8 | (1 << 8), True), (10, True), (14, True), (5, False),
                                              (19, False), (None, False)])
def test_which_sqlite_errors_discard_the_connection(code, discarded):
    from ytsentiment.storage.db import _sqlite_on_error

    class Error(Exception):
        sqlite_errorcode = code

    class Context:
        original_exception = Error()
        is_disconnect = False

    context = Context()
    _sqlite_on_error(context)
    assert context.is_disconnect is discarded
