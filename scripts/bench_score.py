"""Benchmark batch scoring on this machine, in one run, and print the table (``make bench-score``).

On N real comments (default 200,000, drawn with replacement from the shared data's sources) it measures, each in a
fresh process so the peaks do not mix:

1. in-process: the bare Pipeline's ``predict_proba`` on all rows in one call (the ceiling, and what holding
   everything in memory costs);
2. ``ytsentiment score --engine pandas``: streamed record batches into one Parquet file;
3. ``ytsentiment score --engine spark`` on ``local[2]``: ``mlflow.pyfunc.spark_udf``; wall time with and without
   the JVM/session start;
4. the pandas engine on 1,000,000 rows (``--million-rows``; 0 skips it): its peak must match the 200k run's.

Peak memory is the largest sum of RSS over the process and all its children (the JVM and Python workers for
Spark), sampled every 0.1 s with psutil. Comments/s count scoring only (files read and written included).

Usage: ``python scripts/bench_score.py [--model-uri URI] [--rows 200000] [--million-rows 1000000]``. MODEL_URI
defaults to the environment's, else ``models:/ytsentiment@production``; when that cannot be resolved, a model is
trained with params.yaml's knobs on 20,000 rows of the shared data (said in the output).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = ["reddit", "semeval2013_2016", "goemotions_reddit", "youtube_thelwall", "airline_tweets", "sanders_twitter"]

CHILD = r"""
import json, sys, time
mode, source, out, model_uri = sys.argv[1:5]
started = time.perf_counter()
from ytsentiment.batch import inputs, score, spark_model
from ytsentiment.loading import predict_frame
model = inputs.resolve_model(model_uri)
if mode == "inprocess":
    import pandas as pd
    frame = pd.read_parquet(source, columns=["text"])
    pipe = inputs.load_pipeline(model)
    t = time.perf_counter()
    predict_frame(pipe, frame["text"].tolist())
    rows, seconds = len(frame), time.perf_counter() - t
elif mode == "pandas":
    result = score.score_pandas(source, out, model, batch_rows=20_000)
    rows, seconds = result.rows, result.seconds
else:
    spark = spark_model.spark_session(sys.argv[5])
    spark.sparkContext.setLogLevel("ERROR")
    result = spark_model.score_spark(source, out, model, spark=spark)
    rows, seconds = result.rows, result.seconds
    spark.stop()
print("RESULT " + json.dumps({"rows": rows, "seconds": seconds, "wall": time.perf_counter() - started}))
"""


def training_sources(names: list[str]):
    """The named training sources as the ingest stage derives them from their upstream files."""
    from ytsentiment.config import load_params
    from ytsentiment.stages.ingest import ingest

    params = load_params(REPO / "params.yaml")
    chosen = [s for s in params.ingest.sources if s.name in names]
    return ingest(chosen, params.seed, str(REPO / params.ingest.mirror), params.ingest.url)[0]


def make_comments(path: Path, rows: int, seed: int = 0) -> None:
    import numpy as np
    import pandas as pd

    texts = training_sources(SOURCES)["text"].tolist()
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(texts), size=rows)
    frame = pd.DataFrame({"comment_id": [f"c{i:08d}" for i in range(rows)],
                          "video_id": [f"v{i % 500:05d}" for i in range(rows)],
                          "text": [texts[i] for i in picks]})
    frame.to_parquet(path, row_group_size=50_000)


def bench_model(workdir: Path) -> str:
    """params.yaml's knobs, fitted on 20,000 rows of the shared data (when no registered model is at hand)."""
    import pandas as pd

    from ytsentiment.artifact import save_model
    from ytsentiment.config import load_params
    from ytsentiment.model import build_pipeline

    params = load_params(REPO / "params.yaml")
    rows = {"reddit": 6000, "semeval2013_2016": 8000, "goemotions_reddit": 6000}
    sources = training_sources(list(rows))
    corpus = pd.concat([frame.sample(n=rows[name], random_state=0) for name, frame in sources.groupby("source")],
                       ignore_index=True)
    pipe = build_pipeline(params.featurize, params.train, params.seed).fit(corpus[["text"]], corpus["label"])
    return str(save_model(pipe, workdir / "bench-model", {"name": "bench-model (params.yaml, 20k rows)",
                                                           "version": "0"}))


def run_child(args: list[str]) -> dict:
    """Run one measurement; returns its result plus the peak RSS (MB) of its whole process tree."""
    import psutil

    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env, cwd=REPO)
    root, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            procs = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in procs if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.1)
    out = proc.stdout.read()
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{args[0]} failed (exit {proc.returncode}):\n{out[-3000:]}")
    return {**json.loads(lines[-1][7:]), "peak_mb": peak / 2**20}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-uri", default=os.environ.get("MODEL_URI") or "models:/ytsentiment@production")
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--million-rows", type=int, default=1_000_000, help="pandas-engine memory run (0: skip)")
    ap.add_argument("--master", default="local[2]")
    args = ap.parse_args(argv)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

    from ytsentiment import YtSentimentError
    from ytsentiment.batch.inputs import resolve_model

    with tempfile.TemporaryDirectory(prefix="bench-score-") as tmp:
        work = Path(tmp)
        try:
            model_uri = str(resolve_model(args.model_uri).uri)
        except YtSentimentError as exc:
            print(f"({exc}: training a bench model instead)", flush=True)
            model_uri = bench_model(work)
        source = work / "comments.parquet"
        make_comments(source, args.rows)
        print(f"model {model_uri}; {args.rows:,} comments; {os.cpu_count()} cores", flush=True)
        results = {
            "in-process (one call)": run_child(["inprocess", str(source), "-", model_uri]),
            "pandas engine (20k batches)": run_child(["pandas", str(source), str(work / "p.parquet"), model_uri]),
            f"spark engine ({args.master})": run_child(["spark", str(source), str(work / "s"), model_uri,
                                                        args.master]),
        }
        if args.million_rows:
            big = work / "million.parquet"
            make_comments(big, args.million_rows, seed=1)
            results[f"pandas engine, {args.million_rows:,} rows"] = run_child(
                ["pandas", str(big), str(work / "m.parquet"), model_uri])
    print("\n| run | rows | comments/s | scoring s | wall s (with start-up) | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['rows']:,} | {r['rows'] / r['seconds']:,.0f} | {r['seconds']:.1f} | {r['wall']:.1f} | "
              f"{r['peak_mb']:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
