"""Benchmark ``ytsentiment.explain.explain`` against ``predict_proba`` in process, and print the figures.

Both on the same 100 real comments (the test split, seeded sample), one thread as in one gunicorn worker, median of
``--repeats`` runs each, alternating; the target (issue 20) is explain <= 2x predict_proba. The model is the DVC
pipeline's (models/features.joblib + models/classifier.joblib, joined by ``model.compose``) or ``--model-uri``.
The load average is printed: on a shared machine, compare figures of one run only.

Usage: ``python scripts/bench_explain.py [--model-uri URI] [--comments 100] [--repeats 15]`` (``make bench-explain``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import joblib
import pandas as pd

from ytsentiment.explain import explain
from ytsentiment.model import compose

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-uri")
    ap.add_argument("--comments", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--k", type=int, default=3)
    args = ap.parse_args()
    if args.model_uri:
        import mlflow.sklearn

        pipeline = mlflow.sklearn.load_model(args.model_uri)
    else:
        pipeline = compose(joblib.load(REPO / "models/features.joblib"), joblib.load(REPO / "models/classifier.joblib"))
    pipeline.set_params(**{k: 1 for k in pipeline.get_params(deep=True) if k.endswith("n_jobs")})
    texts = pd.read_parquet(REPO / "data/interim/test.parquet", columns=["text"])["text"].sample(
        args.comments, random_state=0).tolist()
    frame = pd.DataFrame({"text": texts})
    pipeline.predict_proba(frame), explain(pipeline, texts, args.k)  # warm-up (lazy VADER, term tables)
    predict, explained = [], []
    for _ in range(args.repeats):
        for out, call in ((predict, lambda: pipeline.predict_proba(frame)),
                          (explained, lambda: explain(pipeline, texts, args.k))):
            started = time.perf_counter()
            call()
            out.append(time.perf_counter() - started)
    p = statistics.median(predict) * 1000
    print(f"load average {os.getloadavg()[0]:.2f}; {args.comments} comments, median of {args.repeats}")
    print(f"predict_proba                 {p:8.1f} ms")
    e = statistics.median(explained) * 1000
    print(f"{f'explain (k={args.k})':<29} {e:8.1f} ms   {e / p:.2f}x predict_proba (target <= 2x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
