"""``ytsentiment monitor``: drift and live quality of the production model, and the retrain decision.

Writes ``<out>/report.html`` and ``<out>/summary.json`` (``decision`` and ``reasons`` for the GitHub job summary),
one MLflow run and one ``monitor_runs`` row; the log's last line states the decision.

Exit codes: 0 ok, not enough data, or retrain without ``--fail-on-retrain``; 3 retrain with ``--fail-on-retrain``
(a scheduled workflow branches on it); 2 bad input or configuration (the message says what to fix); 1 unexpected.
"""

from __future__ import annotations

import argparse
import functools
import logging
from pathlib import Path

from ytsentiment import config
from ytsentiment.monitoring.job import alias_version, load_model, run_monitor, test_split_reference
from ytsentiment.registry import CHALLENGER
from ytsentiment.storage.db import make_engine
from ytsentiment.storage.monitor import latest_version
from ytsentiment.storage.shadow import challenger_in_log

log = logging.getLogger(__name__)

EXIT_RETRAIN = 3


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", default=config.model_name(), help="registered model name (env MODEL_NAME)")
    p.add_argument("--model-version", help="version to monitor (default: the registry's @production, else the "
                                           "newest version in the prediction log)")
    p.add_argument("--challenger-version", help="challenger to compare with production (default: the registry's "
                                                "@challenger; with --no-mlflow the newest one in the shadow log)")
    p.add_argument("--params", default="params.yaml", help="params file with the `monitor:` section")
    p.add_argument("--out", default="reports/monitor", help="folder for report.html and summary.json")
    p.add_argument("--database-url", help="SQLAlchemy URL (default: env DATABASE_URL, else the embedded SQLite)")
    p.add_argument("--test-split", help="training test split parquet for the informative view "
                                        "(default: monitor.test_split; 'none' skips it)")
    p.add_argument("--model-uri", help="model that scores the test split and explains the term movers (default: "
                                       "models:/<name>/<version>); without a loadable model only text and "
                                       "descriptors are compared, and no terms")
    p.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")
    p.add_argument("--github-output", metavar="FILE",
                   help="append `decision=<decision>` to FILE (a workflow step's $GITHUB_OUTPUT)")
    p.add_argument("--fail-on-retrain", action="store_true",
                   help=f"exit {EXIT_RETRAIN} when the decision is retrain (for scheduled workflows)")


def _model_loader(args, version_hint: str | None):
    """The monitored model, loaded on first use, once (None when it cannot be): the views that need it degrade, the
    decision does not depend on it."""
    @functools.cache
    def model():
        uri = args.model_uri or (f"models:/{args.name}/{version_hint}" if version_hint else None)
        if uri:
            try:
                return load_model(uri)
            except Exception as exc:  # noqa: BLE001 - said in the log and the report, never fatal
                log.warning("cannot load %s (%s): the test split is compared on text and descriptors only, and no "
                            "term movers are shown", uri, exc)
        return None

    return model


def _test_reference(args, params, model):
    path = args.test_split or params.test_split
    if not path or path.lower() == "none":
        return None
    if not Path(path).is_file():
        log.warning("training test split %s not found (run `make repro`): the informative view is skipped", path)
        return None
    return test_split_reference(path, params, model())


def run(args) -> int:
    params = config.load_params(args.params).monitor
    engine = make_engine(args.database_url)
    try:
        version = (args.model_version or (None if args.no_mlflow else alias_version(args.name))
                   or latest_version(engine, args.name))
        challenger = args.challenger_version or (challenger_in_log(engine, args.name) if args.no_mlflow
                                                 else alias_version(args.name, CHALLENGER))
        model = _model_loader(args, version)
        summary = run_monitor(engine, params, args.name, args.out, model_version=version,
                              test_reference=_test_reference(args, params, model), track=not args.no_mlflow,
                              challenger=challenger, model=model)
    finally:
        engine.dispose()
    print(f"{summary['decision'].upper()}: {summary['model_name']} v{summary['model_version']} "
          f"(report: {Path(args.out) / 'report.html'})")
    for reason in summary["reasons"]:
        print(f"  - {reason}")
    if shadow := summary.get("shadow"):
        live = shadow["live"]
        f1 = (f"; live macro-F1 on {live['n_feedback']} feedback rows: production {live['production']['macro_f1']:.3f}"
              f", challenger {live['challenger']['macro_f1']:.3f}" if live["n_feedback"] else "; no feedback yet")
        print(f"  challenger v{shadow['challenger_version']}: {shadow['n_shadowed']} comments shadowed, agreement "
              f"{shadow['agreement'] if shadow['agreement'] is not None else '-'}{f1}")
    if args.github_output:
        with open(args.github_output, "a", encoding="utf-8") as fh:
            fh.write(f"decision={summary['decision']}\n")
    if summary["decision"] == "retrain" and args.fail_on_retrain:
        return EXIT_RETRAIN
    return 0

