"""Slow and greedy clients cannot take the API down (issue 19, findings 2 and 3): a real gunicorn, default settings
behind one trusted proxy (so each test client can have its own address through X-Forwarded-For)."""

from __future__ import annotations

import socket
import statistics
import threading
import time

import pytest
import requests
from support.servers import start_gunicorn

pytestmark = pytest.mark.slow


def trickle(port: int, body: bool, stop: threading.Event, opened: list) -> None:
    """One slowloris socket: a request whose headers (or body) arrive a byte every 0.2 s until ``stop``."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        opened.append(sock)
        head = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        if body:
            sock.sendall(head + b"Content-Length: 100000\r\n\r\n")
        else:
            sock.sendall(head[:20])
        while not stop.wait(0.2):
            try:
                sock.sendall(b"x" if body else b"X-a: b\r\n"[:1])
            except OSError:
                return


def timings(base: str, n: int = 10, address: str = "198.51.100.10") -> tuple[list[float], list[int]]:
    took, statuses = [], []
    for i in range(n):
        for method, path, body in (("GET", "/health", None), ("POST", "/predict", {"comments": [f"nice one {i}"]})):
            started = time.perf_counter()
            response = requests.request(method, base + path, json=body, timeout=5,
                                        headers={"X-Forwarded-For": address})
            took.append(time.perf_counter() - started)
            statuses.append(response.status_code)
    return took, statuses


@pytest.fixture(scope="module")
def server(trained_model_dir, tmp_path_factory):
    """The API under the default gunicorn settings (2 workers), behind one trusted proxy, with the limits below."""
    running = start_gunicorn(str(trained_model_dir), tmp_path_factory.mktemp("abuse") / "server.log", workers=2,
                             # the request-count limit is test_limits.py's: here the third client, which asks
                             # as fast as it can for as long as the greedy ones run, must never meet it
                             extra_env={"TRUSTED_PROXIES": "1", "PREDICT_CHARS_LIMIT": GREEDY_BUDGET,
                                        "PREDICT_RATE_LIMIT": "100000 per minute"})
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize("sockets", [4, 20])
@pytest.mark.parametrize("body", [False, True], ids=["headers", "body"])
def test_slow_sockets_do_not_hold_the_workers(server, sockets, body):
    """While ``sockets`` clients trickle their requests, another client's /health and /predict answer as usual
    (with sync workers, 4 slow sockets held both workers and every other request waited for gunicorn's timeout)."""
    port = int(server.url.rsplit(":", 1)[1])
    usual, _ = timings(server.url)
    stop, opened = threading.Event(), []
    threads = [threading.Thread(target=trickle, args=(port, body, stop, opened), daemon=True) for _ in range(sockets)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 10
        while len(opened) < sockets and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(opened) == sockets
        time.sleep(0.5)  # every slow socket has started its request
        during, statuses = timings(server.url)
    finally:
        stop.set()
        for t in threads:
            t.join(5)
    assert set(statuses) == {200}
    # "as usual": no request waits for a slow one; 1 s is 50x the usual p50 here and far below gunicorn's timeout
    assert max(during) < 1.0, f"usual p50 {statistics.median(usual):.3f} s; during {sorted(during)}"


GREEDY_CHARS = 2000  # per comment, 1000 comments a request: 2 MB (the 4 MB took 7 s a request here)
GREEDY_BUDGET = f"{1000 * GREEDY_CHARS} per minute"  # one greedy request a minute per address and worker


def greedy(base: str, address: str, stop: threading.Event, answers: list) -> None:
    """Back-to-back /predict requests of 1000 comments of GREEDY_CHARS characters from one address, until ``stop``
    or a 429 (after which the client would have to wait for Retry-After)."""
    comments = [("so good " * 500)[:GREEDY_CHARS] for _ in range(1000)]
    session = requests.Session()
    while not stop.is_set():
        response = session.post(f"{base}/predict", json={"comments": comments}, timeout=120,
                                headers={"X-Forwarded-For": address})
        answers.append((response.status_code, response.headers.get("Retry-After")))
        if response.status_code == 429:
            return


def test_two_greedy_clients_do_not_starve_a_third(server):
    """Two clients sending 2 MB requests back to back: a third client's one-comment requests keep a p50 under
    0.25 s meanwhile (with sync workers and no per-address budget, 4 MB requests pushed it to 9.6 s). Each greedy
    client gets its character budget's worth through (PREDICT_CHARS_LIMIT, here one request a minute per worker),
    then 429 with Retry-After."""
    usual, _ = timings(server.url, n=5)
    stop, answers = threading.Event(), []
    threads = [threading.Thread(target=greedy, args=(server.url, f"198.51.100.{i}", stop, answers), daemon=True)
               for i in (1, 2)]
    for t in threads:
        t.start()
    during, statuses = [], []
    try:
        deadline = time.monotonic() + 90
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            took, answered = timings(server.url, n=2)
            during += took
            statuses += answered
    finally:
        stop.set()
        for t in threads:
            t.join(120)
    p50 = statistics.median(during)
    summary = f"usual p50 {statistics.median(usual):.3f} s; during p50 {p50:.3f} s max {max(during):.3f}; {answers}"
    assert set(statuses) == {200}, summary
    refused = [retry for status, retry in answers if status == 429]
    assert len(refused) == 2 and all(0 < int(retry) <= 61 for retry in refused), summary
    assert {status for status, _ in answers} == {200, 429}, summary
    assert p50 < 0.25, summary
