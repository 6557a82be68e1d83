"""Benchmark of the training pipeline: wall time of every DVC stage (forced), of the whole, and of a no-op repro.

Usage: ``make bench-train`` (or ``python scripts/bench_train.py [--stages ingest clean ...]``). Targets from the
training issue: full repro <= 300 s (aim 180 s), no-op repro <= 5 s. Prints a table; exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import yaml

from ytsentiment.scoring import macro_f1_table

REPO = Path(__file__).resolve().parents[1]


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    stages = list(yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stages", nargs="+", default=stages, choices=stages)
    args = ap.parse_args()
    rows = [(stage, timed(["dvc", "repro", "--force", "--single-item", stage])) for stage in args.stages]
    noop = timed(["dvc", "repro"])
    total = sum(seconds for _, seconds in rows)
    print(f"\n{'stage':<12}{'seconds':>9}")
    for stage, seconds in rows:
        print(f"{stage:<12}{seconds:>9.1f}")
    print(f"{'total':<12}{total:>9.1f}   (target <= 300, aim 180)")
    print(f"{'no-op':<12}{noop:>9.1f}   (target <= 5)")
    facts = REPO / "reports" / "train.json"
    metrics = REPO / "reports" / "metrics.json"
    timings = REPO / "reports" / "timings" / "train.json"  # machine-dependent, so not in the DVC metrics
    if facts.is_file() and metrics.is_file():
        f, m = json.loads(facts.read_text()), json.loads(metrics.read_text())
        t = json.loads(timings.read_text()) if timings.is_file() else {}
        boosted = f"LightGBM {f['best_iteration']} rounds, " if "best_iteration" in f else ""
        print(f"\nclassifier fit {t.get('fit_seconds', '?')} s on {f['rows']} x {f['features']}: {boosted}"
              f"logistic regression {f['linear_epochs']} epochs")
        print(f"\nmacro-F1 on the test rows:\n{macro_f1_table(m, ('overall', 'reddit', 'human'))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
