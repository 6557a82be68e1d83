"""``ytsentiment tune``: search the featurize and train knobs with Optuna, every trial a nested MLflow run.

    ytsentiment tune --trials 20 --timeout 900            # continues the study `ytsentiment` in var/optuna.db
    ytsentiment tune --rows 3000 --study-name quick --storage sqlite:///var/quick.db

Reads the clean stage's train/test parquet and params.yaml (ranges and settings in ``tune:``, the latency budget in
``gate:``); prints the best trial next to params.yaml's current values and the ``dvc exp run -S ...`` line that
adopts it. Adopting stays a person's decision: nothing here edits params.yaml.

Exit codes: 0 ok; 2 bad input, or no trial completed (the message says why); 1 unexpected.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging

from ytsentiment import YtSentimentError
from ytsentiment.config import load_params
from ytsentiment.tuning.search import format_outcome, load_data, outcome, search

log = logging.getLogger(__name__)

DEFAULT_STORAGE = "sqlite:///var/optuna.db"
DEFAULT_STUDY = "ytsentiment"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trials", type=int, default=20, help="trials to add to the study (default 20)")
    p.add_argument("--timeout", type=float, help="seconds; no new trial starts after this (default: none)")
    p.add_argument("--rows", type=int, help="train rows in the stratified subsample (default: tune.rows)")
    p.add_argument("--test-rows", type=int, help="test rows in the subsample (default: tune.test_rows)")
    p.add_argument("--threads", type=int, help="LightGBM threads per fit (default: train.n_jobs; 1 on a busy "
                                               "machine, where OpenMP threads contend); serving timing always uses 1")
    p.add_argument("--storage", default=DEFAULT_STORAGE, help=f"Optuna storage URL (default {DEFAULT_STORAGE})")
    p.add_argument("--study-name", default=DEFAULT_STUDY, help="the same name continues the same study")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--train", default="data/interim/train.parquet", help="the clean stage's train split")
    p.add_argument("--test", default="data/interim/test.parquet", help="the clean stage's test split")


def run(args) -> int:
    import optuna

    if args.trials is not None and args.trials < 1 or args.timeout is not None and args.timeout <= 0:
        raise YtSentimentError("--trials and --timeout must be positive")
    params = load_params(args.params)
    if args.threads is not None:
        if args.threads < 1:
            raise YtSentimentError("--threads must be positive")
        params = dataclasses.replace(params, train=dataclasses.replace(params.train, n_jobs=args.threads))
    if params.tune is None:
        raise YtSentimentError(f"{args.params}: add a `tune:` section with a non-empty `space:` mapping (see "
                               "params.yaml)")
    tune = params.tune
    overrides = {"rows": args.rows, "test_rows": args.test_rows}
    tune = dataclasses.replace(tune, **{k: v for k, v in overrides.items() if v is not None})
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial comes from our own log
    data = load_data(args.train, args.test, tune, params.seed)
    study = search(params, tune, data, args.storage, args.study_name, args.trials, args.timeout)
    print(format_outcome(study, args.storage, tune.objective))
    if outcome(study)["best"] is None:
        raise YtSentimentError(f"no trial of study '{args.study_name}' completed: see the pruned reasons above "
                               "(a latency budget too tight for every model? gate.latency_budget_ms)")
    return 0
