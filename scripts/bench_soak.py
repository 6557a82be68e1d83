"""Soak the API under gunicorn with mixed traffic and faults, then print what held and what did not.

For ``--seconds`` (default 90), ``--clients`` threads (default 4) send a mix of ``POST /predict``, ``/analyze``,
``/feedback`` (on ids they were just served) and the three chart routes, with real comments, to the API on a real
PostgreSQL, prediction log on. Meanwhile: a slow client holds ``--slow-sockets`` connections trickling their
headers one byte a second; at 20 % of the run one worker is SIGKILLed (gunicorn starts another); from 40 % to 60 %
PostgreSQL is stopped (``pg_ctl stop -m fast``) and started again. Afterwards it waits for the log to drain and
prints requests and answers by route and status, connection errors, the predictions served (ids in 200 answers)
against the rows stored, the feedback accepted against the rows stored, and the RSS of each worker that lived
through the run after the warm-up (the first 20 %, every route), after the outage and at the end.

It exits 1 when any answer is not a success other than ``/feedback``'s 503 while the database is down (the label is
not queued, by design: the client is told to retry) — every request it sends is valid, so a 4xx is a failure too (a
label for a served prediction must never be 404) —, when a served prediction or an accepted label is not stored, or
when a surviving worker's RSS grew by more than ``--rss-bound-mb`` (default 20) from the end of the outage to the
end of the run. Not from the warm-up: a worker's RSS climbs to the high-water mark of its concurrent requests over
the first minutes (to about 400 MB, whatever the run's length); a leak keeps climbing in the last 40 %. Every client
is this machine's one address, so the per-address limits are lifted (they are measured by their own tests).

Usage: ``python scripts/bench_soak.py [--model-uri URI] [--data CSV] [--seconds 90] [--clients 4] [--workers 2]``
(``make bench-soak``); MODEL_URI defaults as in ``scripts/bench_api.py``.
"""

from __future__ import annotations

import collections
import random
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_api import DEFAULT_DATA, REPO, load_texts  # noqa: E402

sys.path.insert(0, str(REPO / "tests"))
from support.postgres import PostgresServer  # noqa: E402
from support.servers import start_gunicorn, workers_and_writers  # noqa: E402

LIFTED = {"PREDICT_RATE_LIMIT": "1000000 per minute", "PREDICT_CHARS_LIMIT": "1000000000 per minute",
          "FEEDBACK_RATE_LIMIT": "1000000 per minute", "FEEDBACK_ADDRESS_RATE_LIMIT": "1000000 per minute",
          "FEEDBACK_CLIENTS_PER_ADDRESS": "1000"}
CHARTS = ("/generate_chart", "/generate_wordcloud", "/generate_trend_graph")


def parse_args(argv=None):
    import argparse
    import os

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-uri", default=os.environ.get("MODEL_URI", "models:/ytsentiment@production"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CSV of comments (default: %(default)s)")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--slow-sockets", type=int, default=8)
    parser.add_argument("--rss-bound-mb", type=float, default=20.0)
    return parser.parse_args(argv)


class Tally:
    """What the clients saw, shared by their threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.status: collections.Counter = collections.Counter()  # (route, status)
        self.unexpected: list[str] = []
        self.served: set[str] = set()
        self.labelled: set[tuple[str, str]] = set()  # (prediction_id, client_id) answered 201/200
        self.db_down = threading.Event()


def client(i: int, url: str, texts: list[str], stop_at: float, tally: Tally) -> None:
    import requests

    rng = random.Random(i)
    session = requests.Session()
    client_id, recent = f"soak-client-{i:04d}", collections.deque(maxlen=50)
    while time.monotonic() < stop_at:
        pick = rng.random()
        comments = rng.sample(texts, 20)
        if pick < 0.35:
            route, body = "/predict", {"comments": comments[:10], "video_id": "soakSoak001"}
        elif pick < 0.65:
            route, body = "/analyze", {"comments": [{"text": t, "likes": rng.randint(0, 9)} for t in comments],
                                       "video_id": "soakSoak001"}
        elif pick < 0.85 and recent:
            route, body = "/feedback", {"prediction_id": rng.choice(recent), "label": rng.choice((-1, 0, 1)),
                                        "client_id": client_id}
        else:
            route = rng.choice(CHARTS)
            body = ({"sentiment_counts": {"1": 3, "0": 2, "-1": 1}} if route == "/generate_chart" else
                    {"comments": comments} if route == "/generate_wordcloud" else
                    {"sentiment_data": [{"text": t, "timestamp": f"2026-0{1 + k % 9}-01T00:00:00Z",
                                         "sentiment": rng.choice((-1, 0, 1))} for k, t in enumerate(comments)]})
        down = tally.db_down.is_set()
        try:
            response = session.post(f"{url}{route}", json=body, timeout=60)
        except requests.RequestException as exc:  # the killed worker's connections
            with tally.lock:
                tally.status[(route, type(exc).__name__)] += 1
            session = requests.Session()
            continue
        with tally.lock:
            tally.status[(route, response.status_code)] += 1
            if response.status_code >= 400 and not (route == "/feedback" and response.status_code == 503 and
                                                    (down or tally.db_down.is_set())):
                tally.unexpected.append(f"{route} {response.status_code} {response.text[:200]}")
            if response.status_code == 200 and route in ("/predict", "/analyze"):
                answer = response.json()
                ids = [p["prediction_id"] for p in (answer if route == "/predict" else answer["predictions"])]
                tally.served.update(ids)
                recent.extend(ids)
            elif response.status_code in (200, 201) and route == "/feedback":
                tally.labelled.add((body["prediction_id"], client_id))


def slow_client(url: str, sockets: int, stop_at: float) -> None:
    """Hold ``sockets`` connections, each sending its request line and headers one byte a second."""
    host, port = url.removeprefix("http://").split(":")
    request = f"POST /predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n".encode()
    held = []
    for _ in range(sockets):
        with_timeout = socket.create_connection((host, int(port)), timeout=5)
        held.append(with_timeout)
    sent = 0
    while time.monotonic() < stop_at:
        for conn in held:
            try:
                conn.send(request[sent % len(request):sent % len(request) + 1])
            except OSError:
                pass  # closed by the server's timeout: it stays closed
        sent += 1
        time.sleep(1.0)
    for conn in held:
        conn.close()


def worker_rss(master_pid: int) -> dict[int, float]:
    """Each worker's RSS in MB, by process id."""
    return {p.pid: p.memory_info().rss / 2**20 for p in workers_and_writers(master_pid)[0]}


def stored(pg: PostgresServer, database: str) -> tuple[set[str], set[tuple[str, str]]]:
    rows = pg.execute("SELECT id FROM predictions", database)
    labels = pg.execute("SELECT prediction_id, client_id FROM feedback", database)
    return {r[0] for r in rows}, {(r[0], r[1]) for r in labels}


def main(argv=None) -> int:
    args = parse_args(argv)
    texts = load_texts(args.data, args.text_column)
    tally = Tally()
    with PostgresServer() as pg, tempfile.TemporaryDirectory(prefix="ytsentiment-soak-") as tmp:
        pg.execute("CREATE DATABASE soak")
        server = start_gunicorn(args.model_uri, Path(tmp) / "gunicorn.log", workers=args.workers, extra_env={
            **LIFTED, "DATABASE_URL": pg.url("soak"), "PREDICTION_LOG": "on"})
        try:
            server.wait_ready(timeout=120)
            start = time.monotonic()
            stop_at = start + args.seconds
            threads = [threading.Thread(target=client, args=(i, server.url, texts, stop_at, tally))
                       for i in range(args.clients)]
            threads.append(threading.Thread(target=slow_client, args=(server.url, args.slow_sockets, stop_at)))
            for thread in threads:
                thread.start()
            events = []
            time.sleep(0.2 * args.seconds)  # the warm-up: every route has run in every worker
            rss = [worker_rss(server.process.pid)]
            [victim, *_] = workers_and_writers(server.process.pid)[0]
            victim.send_signal(signal.SIGKILL)
            events.append(f"{time.monotonic() - start:5.1f} s  worker {victim.pid} SIGKILLed")
            time.sleep(0.2 * args.seconds)
            tally.db_down.set()
            pg.halt()
            events.append(f"{time.monotonic() - start:5.1f} s  PostgreSQL stopped")
            time.sleep(0.2 * args.seconds)
            pg.resume()
            rss.append(worker_rss(server.process.pid))
            tally.db_down.clear()
            events.append(f"{time.monotonic() - start:5.1f} s  PostgreSQL started again")
            for thread in threads:
                thread.join()
            events.append(f"{time.monotonic() - start:5.1f} s  traffic stopped")
            rss.append(worker_rss(server.process.pid))
            deadline = time.monotonic() + 60
            while not tally.served <= stored(pg, "soak")[0] and time.monotonic() < deadline:
                time.sleep(0.5)
            rows, labels = stored(pg, "soak")
        finally:
            server.stop()
    return report(args, tally, events, rows, labels, rss)


def report(args, tally: Tally, events: list[str], rows: set[str], labels: set, rss: list[dict[int, float]]) -> int:
    print(f"soak: {args.seconds:g} s, {args.clients} clients + {args.slow_sockets} slow sockets, {args.workers} "
          f"workers, PostgreSQL, prediction log on")
    for line in events:
        print("  " + line)
    print(f"\n{'route':<24}{'answer':>22}{'count':>9}")
    for (route, status), n in sorted(tally.status.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        print(f"{route:<24}{status!s:>22}{n:>9,}")
    total = sum(tally.status.values())
    fives = sum(n for (_, status), n in tally.status.items() if isinstance(status, int) and status >= 500)
    lost_rows, lost_labels = tally.served - rows, tally.labelled - labels
    warm, resumed, end = rss
    survivors = sorted(set(warm) & set(end))
    growth = max(end[pid] - resumed[pid] for pid in survivors)
    fresh = [f"{mb:.0f}" for pid, mb in end.items() if pid not in warm]
    checks = [
        (f"requests {total:,}; 5xx {fives:,}; failed answers but /feedback's 503 while the database was down",
         len(tally.unexpected), not tally.unexpected),
        (f"predictions served {len(tally.served):,}, stored {len(tally.served & rows):,}; not stored",
         len(lost_rows), not lost_rows),
        (f"labels accepted {len(tally.labelled):,}, stored {len(tally.labelled & labels):,}; not stored",
         len(lost_labels), not lost_labels),
        (f"worker RSS MB after the warm-up -> after the outage -> at the end: "
         f"{', '.join(' -> '.join(f'{r[pid]:.0f}' for r in rss) for pid in survivors)} (the killed worker's "
         f"successor at the end: {', '.join(fresh) or '-'}); largest growth after the outage (bound "
         f"{args.rss_bound_mb:g})",
         f"{growth:+.0f}", growth <= args.rss_bound_mb),
    ]
    print()
    for text, value, ok in checks:
        print(f"{'OK  ' if ok else 'MISS'} {text}: {value}")
    for line in tally.unexpected[:5]:
        print("     " + line)
    return 0 if all(ok for *_, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
