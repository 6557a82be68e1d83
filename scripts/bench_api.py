"""Benchmark the serving API against the bare Pipeline on this machine, in one run, and print the figures.

1. In process: the served Pipeline's ``predict_proba`` on real comments at batch 1, 100 and 500 (one thread,
   as in one gunicorn worker), in comments per second; and the per-comment extras of serving, per 100 comments:
   language identification (``ytsentiment.language.identify``, on the request path) and building the prediction
   log's rows (``storage.prediction_row``: descriptors, hash; in the host's log writer, off the workers).
2. The API, three times in one run: with the prediction log off (PREDICTION_LOG=off), on (a fresh SQLite file, the
   default store's kind, or ``--database-url``), and on with a challenger shadowing production at the default
   SHADOW_SAMPLE (``shadow``: CHALLENGER_URI is the served model itself, so the challenger costs what production
   does; its own SQLite file). Each starts ``gunicorn -c src/ytsentiment/api/gunicorn.conf.py
   "ytsentiment.api:create_app()"`` on loopback (port 0, through the tests' starter in ``tests/support/servers.py``)
   with the same MODEL_URI and measures the time from start to ``/ready`` = 200 (started one after the other),
   worker RSS (psutil), the latency of ``POST /predict`` with 100 comments (p50/p95, one client, over the batch-100
   slices), and throughput at batch 1/100/500 with one client and with one client per worker; with the log on,
   the rows written and dropped (from /metrics) and the log writer's RSS and CPU; with the shadow, the comments it
   scored and skipped. The servers stay up, and the in-process and per-server slices alternate round by round, so
   a drift of the machine's speed hits all of them alike.
3. ``"explain": true`` (each prediction's ``why``): on the log-off server, one client, 100-comment requests with
   and without it, slice by slice for ``ROUNDS`` rounds; their p50 latencies and the ratio (target <= 2x).

Targets (from the serving issue): p50 <= 30 ms at 100 comments; API throughput at batch 100 (one client)
>= 70 % of in-process; worker RSS <= 400 MB; ready <= 10 s after start; p50 with explain <= 2x without (issue 20).
The load average is printed: on a shared machine, compare figures of one run only.

Usage: ``python scripts/bench_api.py [--model-uri URI] [--data CSV] [--seconds 4] [--workers 2]
[--database-url URL]`` (``make bench-api``). MODEL_URI defaults to the environment's, else
``models:/ytsentiment@production`` (``make export`` then ``--model-uri model`` serves the exported copy).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import timeit
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / "data" / "interim"  # the clean stage's splits (dvc repro): their youtube_thelwall comments
BATCHES = (1, 100, 500)
ROUNDS = 8  # paired in-process/API slices per batch size: this VM's speed drifts +-15 % between 1 s slices
TARGETS = {"p50_ms": 30.0, "ratio": 0.70, "rss_mb": 400.0, "ready_s": 10.0, "explain_ratio": 2.0}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-uri",
                        default=os.environ.get("MODEL_URI") or "models:/ytsentiment@production")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="CSV of real comments (default: the clean stage's YouTube comments, %(default)s)")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--seconds", type=float, default=4.0, help="duration of each measurement")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
    parser.add_argument("--database-url", default=None,
                        help="database of the run with the prediction log on (default: a fresh SQLite file)")
    return parser.parse_args(argv)


def load_texts(path: Path, column: str) -> list[str]:
    """Comments from a CSV (its ``column``), or from the clean stage's directory (the ``youtube_thelwall`` rows of
    its train and test splits), shuffled with a fixed seed."""
    import pandas as pd

    if path.is_dir():
        splits = [path / "train.parquet", path / "test.parquet"]
        if not all(split.is_file() for split in splits):
            raise SystemExit(f"no clean-stage splits in {path}: run `dvc repro` (or `make run`), or pass --data CSV")
        frame = pd.concat([pd.read_parquet(split, columns=["text", "source"]) for split in splits])
        texts = frame.loc[frame["source"] == "youtube_thelwall", "text"].tolist()
    elif path.is_file():
        texts = pd.read_csv(path)[column].dropna().astype(str).tolist()
    else:
        raise SystemExit(f"no comment data at {path}; pass --data CSV (with a '{column}' column)")
    random.Random(0).shuffle(texts)
    return texts


def batches(texts: list[str], size: int):
    start = 0
    while True:
        if start + size > len(texts):
            start = 0
        yield texts[start:start + size]
        start += size


def in_process(model, texts: list[str], size: int, seconds: float) -> float:
    import pandas as pd

    feed = batches(texts, size)
    model.predict_proba(pd.DataFrame({"text": next(feed)}))  # warm-up
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        model.predict_proba(pd.DataFrame({"text": next(feed)}))
        done += size
    return done / elapsed


def per_100(function, texts: list[str], rounds: int = 3) -> float:
    """Milliseconds ``function(text)`` takes per 100 comments (best of ``rounds`` passes over ``texts``)."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for text in texts:
            function(text)
        best = min(best, time.perf_counter() - started)
    return best / len(texts) * 100 * 1000


def serving_extras(texts: list[str]) -> dict[str, float]:
    from datetime import UTC, datetime

    from ytsentiment.language import identify
    from ytsentiment.storage.rows import new_prediction_ids, prediction_row

    now = datetime.now(UTC)

    def row(text: str) -> dict:
        return prediction_row(text=text, sentiment=1, proba=[0.1, 0.2, 0.7], model_name="m", model_version="1",
                              created_at=now, log_text=False, language="en")

    sample = texts[:2000]
    ids = min(timeit.repeat(lambda: new_prediction_ids(100), number=100, repeat=5)) / 100 * 1000
    uuid4s = min(timeit.repeat(lambda: [str(uuid.uuid4()) for _ in range(100)], number=100, repeat=5)) / 100 * 1000
    return {"identify": per_100(identify, sample), "row": per_100(row, sample), "ids": ids, "uuid4": uuid4s}


def start_server(model_uri: str, workers: int, log_path: Path, extra_env: dict[str, str]):
    """gunicorn through the tests' one starter (``tests/support/servers.py``: port 0, port read from its log)."""
    sys.path.insert(0, str(REPO / "tests"))
    from support.servers import start_gunicorn

    # every bench client is this machine's one address: the per-address limits (decision 0015) are not measured here
    unlimited = {"PREDICT_RATE_LIMIT": "1000000 per minute", "PREDICT_CHARS_LIMIT": "1000000000 per minute"}
    server = start_gunicorn(model_uri, log_path, workers=workers, extra_env={**unlimited, **extra_env})
    try:
        ready_s = server.wait_ready(timeout=120)
    except BaseException:  # pytest's Failed is a BaseException: stop the server, then let the reason through
        server.stop()
        raise
    return server, ready_s


def all_workers_ready(url: str, workers: int) -> None:
    """The first /ready proves one worker; send enough requests that every worker has loaded and answered."""
    import requests

    session = requests.Session()
    for _ in range(workers * 10):
        session.post(f"{url}/predict", json={"comments": ["warm up"]}, timeout=60).raise_for_status()


def api_run(url: str, texts: list[str], size: int, seconds: float, clients: int,
            explain: bool = False) -> tuple[float, list[float]]:
    """Comments/s over ``clients`` concurrent clients, and every request's latency in ms."""
    import requests

    latencies: list[float] = []
    counts = [0] * clients
    stop_at = time.perf_counter() + seconds
    errors: list[str] = []

    def client(i: int) -> None:
        session = requests.Session()
        feed = batches(texts[i * 997 % len(texts):] + texts, size)
        while time.perf_counter() < stop_at:
            batch = next(feed)
            t0 = time.perf_counter()
            response = session.post(f"{url}/predict", json={"comments": batch, "explain": explain}, timeout=60)
            latencies.append((time.perf_counter() - t0) * 1000)
            if response.status_code != 200:
                errors.append(f"{response.status_code} {response.text[:200]}")
                return
            counts[i] += size

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"the API failed during the benchmark: {errors[0]}")
    return sum(counts) / (time.perf_counter() - started), latencies


def _children(master_pid: int):
    """(workers, prediction-log writers) of the server (``tests/support/servers.py``)."""
    from support.servers import workers_and_writers

    return workers_and_writers(master_pid)


def workers_cpu_s(master_pid: int) -> dict[int, float]:
    """CPU seconds (user + system) used so far by each of the server's workers (not its log writer)."""
    return {worker.pid: sum(worker.cpu_times()[:2]) for worker in _children(master_pid)[0]}


def writer_cpu_s(master_pid: int) -> float:
    """CPU seconds used so far by the server's prediction-log writer (0 when it has none)."""
    return sum(sum(writer.cpu_times()[:2]) for writer in _children(master_pid)[1])


def log_writer_rss_mb(master_pid: int) -> list[float]:
    return [writer.memory_info().rss / 2**20 for writer in _children(master_pid)[1]]


def worker_rss_mb(master_pid: int) -> list[float]:
    return [p.memory_info().rss / 2**20 for p in _children(master_pid)[0]]


def metric_totals(url: str, names: tuple[str, ...]) -> dict[str, float]:
    """Each named series on /metrics, summed over workers and labels."""
    import requests
    from prometheus_client.parser import text_string_to_metric_families

    text = requests.get(f"{url}/metrics", timeout=10).text
    totals = dict.fromkeys(names, 0.0)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in totals:
                totals[sample.name] += sample.value
    return totals


def log_counts(url: str) -> tuple[float, float]:
    """(rows written, rows dropped) by the prediction log, summed over the workers."""
    totals = metric_totals(url, ("ytsentiment_prediction_log_written_total",
                                 "ytsentiment_prediction_log_dropped_total"))
    return totals["ytsentiment_prediction_log_written_total"], totals["ytsentiment_prediction_log_dropped_total"]


def shadow_counts(url: str) -> str:
    """Comments the challenger scored / skipped, and its CPU per scored comment, from /metrics."""
    totals = metric_totals(url, ("ytsentiment_shadow_scored_total", "ytsentiment_shadow_skipped_total",
                                 "ytsentiment_shadow_cpu_seconds_total"))
    scored = totals["ytsentiment_shadow_scored_total"]
    cpu_ms = totals["ytsentiment_shadow_cpu_seconds_total"] * 1000 / scored * 100 if scored else 0.0
    return f"{scored:.0f}/{totals['ytsentiment_shadow_skipped_total']:.0f} ({cpu_ms:.1f} ms CPU per 100)"


def verdict(ok: bool) -> str:
    return "OK  " if ok else "MISS"


def measure(args, loaded, texts: list[str], tmp: Path, database: str, shadow_database: str) -> list[dict]:
    """The servers (log off, log on, shadow) up at once, and every figure of each, with the in-process figures
    measured in the same rounds: in-process, then each server, one slice each, ``ROUNDS`` times per batch size. A
    drift of this machine's speed during the run hits all alike (measured one server after the
    other, whichever ran second came out slower)."""
    modes = {"off": {"PREDICTION_LOG": "off", "CHALLENGER_URI": "none"},
             "on": {"PREDICTION_LOG": "on", "DATABASE_URL": database, "CHALLENGER_URI": "none"},
             "shadow": {"PREDICTION_LOG": "on", "DATABASE_URL": shadow_database, "CHALLENGER_URI": args.model_uri}}
    runs = {mode: {"mode": mode, "local": dict.fromkeys(BATCHES, 0.0), "single": dict.fromkeys(BATCHES, 0.0),
                   "parallel": dict.fromkeys(BATCHES, 0.0), "paired": [], "latencies": [], "cpu_s": {}}
            for mode in modes}
    servers = {}
    try:
        for mode, env in modes.items():  # one at a time: the other is not started yet, so start-up is measured alone
            servers[mode], runs[mode]["ready_s"] = start_server(args.model_uri, args.workers,
                                                                tmp / f"gunicorn-{mode}.log", env)
            all_workers_ready(servers[mode].url, args.workers)
            runs[mode]["rss"] = worker_rss_mb(servers[mode].process.pid)
        slice_s = args.seconds / 4
        writer_cpu_before = {mode: writer_cpu_s(servers[mode].process.pid) for mode in ("on", "shadow")}
        for _ in range(ROUNDS):
            for size in BATCHES:
                here = in_process(loaded.model, texts, size, slice_s)
                for mode, server in servers.items():
                    cpu_before = workers_cpu_s(server.process.pid)
                    there, latencies = api_run(server.url, texts, size, slice_s, clients=1)
                    run = runs[mode]
                    if size == 100:
                        for pid, seconds in workers_cpu_s(server.process.pid).items():
                            run["cpu_s"][pid] = run["cpu_s"].get(pid, 0.0) + seconds - cpu_before.get(pid, seconds)
                    run["local"][size] += here / ROUNDS
                    run["single"][size] += there / ROUNDS
                    if size == 100:
                        run["paired"].append(there / here)
                        run["latencies"].extend(latencies)
        for size in BATCHES:
            for mode, server in servers.items():
                runs[mode]["parallel"][size] = api_run(server.url, texts, size, args.seconds,
                                                       clients=args.workers)[0]
        explained: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(ROUNDS):  # with and without "explain", slice by slice on the same server
            for explain in (False, True):
                explained[explain].extend(api_run(servers["off"].url, texts, 100, slice_s, 1, explain)[1])
        runs["off"]["explain_p50"] = {k: statistics.median(v) for k, v in explained.items()}
        for mode, server in servers.items():
            run = runs[mode]
            run["rss"] = [max(a, b) for a, b in zip(run["rss"], worker_rss_mb(server.process.pid), strict=False)] \
                or run["rss"]
        time.sleep(3)  # let the last segments reach the database (closed within PREDICTION_LOG_SEGMENT_SECONDS, 1 s)
        for mode in ("on", "shadow"):
            runs[mode]["written"], runs[mode]["dropped"] = log_counts(servers[mode].url)
            runs[mode]["log_rss"] = log_writer_rss_mb(servers[mode].process.pid)
            runs[mode]["writer_cpu_ms"] = (writer_cpu_s(servers[mode].process.pid) - writer_cpu_before[mode]) * 1000
        runs["off"]["written"] = runs["off"]["dropped"] = 0.0
        runs["shadow"]["shadow"] = shadow_counts(servers["shadow"].url)
    finally:
        for server in servers.values():
            server.stop()
    for run in runs.values():
        latencies = run.pop("latencies")
        run.update(p50=statistics.median(latencies), requests=len(latencies),
                   cpu_ms=sum(run["cpu_s"].values()) * 1000 / len(latencies),
                   # with one client, one warm worker serving (nearly) every request is the fast case
                   busiest=max(run["cpu_s"].values()) / (sum(run.pop("cpu_s").values()) or 1.0),
                   p95=statistics.quantiles(latencies, n=20)[18] if len(latencies) >= 20 else max(latencies))
    return [runs["off"], runs["on"], runs["shadow"]]


def report(args, runs: list[dict]) -> None:
    for run in runs:
        print()
        print(f"prediction log {'on, challenger shadowing' if run['mode'] == 'shadow' else run['mode']}:")
        print(f"{'batch':>6}  {'in-process c/s':>15}  {'API c/s, 1 client':>18}  {'API/in-process':>14}  "
              f"{f'API c/s, {args.workers} clients':>20}")
        for size in BATCHES:
            share = run["single"][size] / run["local"][size]
            print(f"{size:>6}  {run['local'][size]:>15,.0f}  {run['single'][size]:>18,.0f}  {share:>14.0%}  "
                  f"{run['parallel'][size]:>20,.0f}")
    print()
    print(f"{'':>46}  " + "  ".join(f"{'log ' + r['mode'] if r['mode'] != 'shadow' else 'log on+shadow':>12}"
                                     for r in runs) + "  target")
    lines = [
        ("POST /predict, 100 comments: p50 ms", "p50", "{:.1f}", lambda v: v <= TARGETS["p50_ms"], "<= 30"),
        ("POST /predict, 100 comments: p95 ms", "p95", "{:.1f}", lambda v: True, ""),
        ("API/in-process throughput at batch 100", "ratio", "{:.0%}", lambda v: v >= TARGETS["ratio"], ">= 70 %"),
        ("... per paired slice at batch 100, min-max", "spread", "{}", lambda v: True, ""),
        ("workers' CPU per request at batch 100 (ms)", "cpu_ms", "{:.1f}", lambda v: True, ""),
        ("... the busiest worker's share of it", "busiest", "{:.0%}", lambda v: True, ""),
        ("worker RSS, largest (MB)", "rss_max", "{:.0f}", lambda v: v <= TARGETS["rss_mb"], "<= 400"),
        ("log writer RSS (MB)", "log_rss_max", "{}", lambda v: True, ""),
        ("log writer CPU per logged request (ms)", "writer_ms", "{}", lambda v: True, ""),
        ("start to /ready (s)", "ready_s", "{:.1f}", lambda v: v <= TARGETS["ready_s"], "<= 10"),
        ("rows written / dropped by the log", "rows", "{}", lambda v: True, ""),
        ("challenger: comments scored / skipped", "shadow", "{}", lambda v: True, ""),
    ]
    for run in runs:
        run["ratio"] = run["single"][100] / run["local"][100]
        run["rss_max"] = max(run["rss"])
        run["log_rss_max"] = f"{max(run['log_rss']):.0f}" if run.get("log_rss") else "-"
        run["spread"] = f"{min(run['paired']):.0%}-{max(run['paired']):.0%}"
        run["rows"] = f"{run['written']:.0f}/{run['dropped']:.0f}" if run["mode"] != "off" else "-"
        run["writer_ms"] = (f"{run['writer_cpu_ms'] / (run['written'] / 100 or 1):.1f}" if run["mode"] != "off"
                            else "-")
        run.setdefault("shadow", "-")
    for title, key, fmt, ok, target in lines:
        cells = "  ".join(f"{(fmt.format(r[key]) + ('' if ok(r[key]) else ' MISS')):>12}" for r in runs)
        if key == "shadow":
            cells = "  ".join(f"{r[key]:>12}" for r in runs)
        print(f"{title:>46}  {cells}  {target}")
    without, with_explain = (runs[0]["explain_p50"][k] for k in (False, True))
    ratio = with_explain / without
    print(f"\n{'POST /predict, 100 comments, log off: p50 ms':>46}  {without:>12.1f} without explain, "
          f"{with_explain:.1f} with explain: {ratio:.2f}x {verdict(ratio <= TARGETS['explain_ratio'])}(target <= 2x)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from ytsentiment.api.model_store import limit_threads, load_model

    texts = load_texts(args.data, args.text_column)
    loaded = load_model(args.model_uri)
    limit_threads(loaded.model, 1)  # as in each gunicorn worker (MODEL_THREADS=1)
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"model {args.model_uri} (name={loaded.info['name']} version={loaded.info['version']}); "
          f"{len(texts)} comments from {args.data.name}; {os.cpu_count()} CPUs; {args.workers} workers; "
          f"{args.seconds:g} s per measurement; load average {load}", flush=True)
    extras = serving_extras(texts)
    print(f"per 100 comments, in process: language identification {extras['identify']:.2f} ms (request path); "
          f"prediction-log rows {extras['row']:.2f} ms (in the log writer); prediction ids "
          f"{extras['ids']:.3f} ms (str(uuid4()) each: {extras['uuid4']:.3f} ms)", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        tmp = Path(tmp)
        database = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
        runs = measure(args, loaded, texts, tmp, database, f"sqlite:///{tmp / 'bench-shadow.db'}")
    report(args, runs)
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"\nload average at the end: {load} (1, 5, 15 min; {os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
