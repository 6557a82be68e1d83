"""Benchmark the serving API against the bare Pipeline on this machine, in one run, and print the figures.

1. In process: the served Pipeline's ``predict_proba`` on real comments at batch 1, 100 and 500 (one thread,
   as in one gunicorn worker), in comments per second.
2. The API: starts ``gunicorn -c flask_app/gunicorn.conf.py "flask_app:create_app()"`` on a free loopback
   port with the same MODEL_URI; measures the time from start to ``/ready`` = 200, worker RSS (psutil), the
   latency of ``POST /predict`` with 100 comments (p50/p95, one client), and throughput at batch 1/100/500
   with one client and with one client per worker.

Targets (from the serving issue): p50 <= 30 ms at 100 comments; API throughput at batch 100 (one client)
>= 70 % of in-process; worker RSS <= 400 MB; ready <= 10 s after start.

Usage: ``python scripts/bench_api.py [--model-uri URI] [--data CSV] [--seconds 4] [--workers 2]``
(``make bench-api``). MODEL_URI defaults to the environment's, else ``models:/ytsentiment@production``.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "human" / "youtube_thelwall_ss_binary.csv"
BATCHES = (1, 100, 500)
ROUNDS = 4
TARGETS = {"p50_ms": 30.0, "ratio": 0.70, "rss_mb": 400.0, "ready_s": 10.0}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-uri",
                        default=os.environ.get("MODEL_URI") or "models:/ytsentiment@production")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="CSV of real comments (default: %(default)s)")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--seconds", type=float, default=4.0, help="duration of each measurement")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
    return parser.parse_args(argv)


def load_texts(path: Path, column: str) -> list[str]:
    import pandas as pd

    if not path.is_file():
        raise SystemExit(f"no comment data at {path}; pass --data CSV (with a '{column}' column)")
    texts = pd.read_csv(path)[column].dropna().astype(str).tolist()
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model_uri: str, workers: int, log_path: Path) -> tuple[subprocess.Popen, str, float]:
    import requests

    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(workers),
           "MODEL_URI": model_uri, "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "flask_app/gunicorn.conf.py", "flask_app:create_app()"],
        cwd=REPO, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    while time.monotonic() - started < 120:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited ({process.returncode}); log: {log_path}")
        try:
            if requests.get(f"{url}/ready", timeout=1).status_code == 200:
                return process, url, time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.05)
    process.terminate()
    raise SystemExit(f"gunicorn not ready after 120 s; log: {log_path}")


def all_workers_ready(url: str, workers: int) -> None:
    """The first /ready proves one worker; send enough requests that every worker has loaded and answered."""
    import requests

    session = requests.Session()
    for _ in range(workers * 10):
        session.post(f"{url}/predict", json={"comments": ["warm up"]}, timeout=60).raise_for_status()


def api_run(url: str, texts: list[str], size: int, seconds: float, clients: int) -> tuple[float, list[float]]:
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
            response = session.post(f"{url}/predict", json={"comments": batch}, timeout=60)
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


def worker_rss_mb(master_pid: int) -> list[float]:
    import psutil

    return [p.memory_info().rss / 2**20 for p in psutil.Process(master_pid).children()]


def verdict(ok: bool) -> str:
    return "OK  " if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from flask_app.model_store import limit_threads, load_model

    texts = load_texts(args.data, args.text_column)
    loaded = load_model(args.model_uri)
    limit_threads(loaded.model, 1)  # as in each gunicorn worker (MODEL_THREADS=1)
    print(f"model {args.model_uri} (name={loaded.info['name']} version={loaded.info['version']}); "
          f"{len(texts)} comments from {args.data.name}; {os.cpu_count()} CPUs; {args.workers} workers; "
          f"{args.seconds:g} s per measurement", flush=True)

    local = dict.fromkeys(BATCHES, 0.0)
    single = dict.fromkeys(BATCHES, 0.0)
    parallel = dict.fromkeys(BATCHES, 0.0)
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        log_path = Path(tmp) / "gunicorn.log"
        process, url, ready_s = start_server(args.model_uri, args.workers, log_path)
        try:
            all_workers_ready(url, args.workers)
            rss = worker_rss_mb(process.pid)
            _, latencies = api_run(url, texts, 100, args.seconds, clients=1)
            # In-process and API slices alternate, so a neighbour's load on a shared machine hits both alike.
            slice_s = args.seconds / ROUNDS
            for _ in range(ROUNDS):
                for size in BATCHES:
                    local[size] += in_process(loaded.model, texts, size, slice_s) / ROUNDS
                    single[size] += api_run(url, texts, size, slice_s, clients=1)[0] / ROUNDS
            for size in BATCHES:
                parallel[size] = api_run(url, texts, size, args.seconds, clients=args.workers)[0]
            rss = [max(a, b) for a, b in zip(rss, worker_rss_mb(process.pid), strict=False)] or rss
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)

    p50 = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=20)[18] if len(latencies) >= 20 else max(latencies)
    ratio = single[100] / local[100]
    print()
    print(f"{'batch':>6}  {'in-process c/s':>15}  {'API c/s, 1 client':>18}  {'API/in-process':>14}  "
          f"{f'API c/s, {args.workers} clients':>20}")
    for size in BATCHES:
        share = single[size] / local[size]
        print(f"{size:>6}  {local[size]:>15,.0f}  {single[size]:>18,.0f}  {share:>14.0%}  "
              f"{parallel[size]:>20,.0f}")
    print()
    print(f"{verdict(p50 <= TARGETS['p50_ms'])} POST /predict, 100 comments: p50 {p50:.1f} ms, "
          f"p95 {p95:.1f} ms ({len(latencies)} requests; target p50 <= {TARGETS['p50_ms']:.0f} ms)")
    print(f"{verdict(ratio >= TARGETS['ratio'])} API throughput at batch 100: {ratio:.0%} of in-process "
          f"(target >= {TARGETS['ratio']:.0%})")
    print(f"{verdict(max(rss) <= TARGETS['rss_mb'])} worker RSS: {', '.join(f'{r:.0f}' for r in rss)} MB "
          f"(target <= {TARGETS['rss_mb']:.0f} MB each)")
    print(f"{verdict(ready_s <= TARGETS['ready_s'])} ready {ready_s:.1f} s after start "
          f"(target <= {TARGETS['ready_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
