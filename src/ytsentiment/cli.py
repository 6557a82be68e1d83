"""`ytsentiment <command>`: the non-DVC commands (registry, gate, export, deploy, CI summary).

    register   reports/run.json -> new registry version, alias `candidate`, model card
    promote    gate the candidate; on success `production` moves to it (the old one keeps `previous`)
    rollback   `production` goes back to `previous`
    challenge  `challenger` -> VERSION (scored off the request path beside production), or --clear
    export     copy name@production to a local model directory (what the Docker image serves)
    deploy     ship an image through ECR and CodeDeploy (see ytsentiment.deploy.cli)
    summary    Markdown of the metrics and the last promotion decision (for $GITHUB_STEP_SUMMARY)
    predict    a one-line try: label and confidence of each comment given (see ytsentiment.predict)
    params     one section of params.yaml, validated, as JSON (what the Airflow DAGs read)
    ...        and the verbs of PLUGINS below; `ytsentiment --help` lists them all, `--version` the version

Variables in ``.env`` in the working directory are read first; a variable already set in the environment wins.
Exit codes: 0 ok, 1 unexpected error, 2 refused or bad input (the message says why).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from ytsentiment import __version__, config
from ytsentiment.environ import load_env_file
from ytsentiment.logs import run_main

Command = Callable[[argparse.Namespace], int]


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``verb``'s module is imported (for its arguments), so ``ytsentiment --help`` stays quick."""
    ap = argparse.ArgumentParser(prog="ytsentiment", description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--version", action="version", version=f"ytsentiment {package_version()}")
    sub = ap.add_subparsers(dest="command", required=True)

    def cmd(name: str, target: str, helptext: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=helptext)
        p.set_defaults(func=_runner(*target.split(":")))
        p.add_argument("--name", default=config.model_name(), help="registered model name (env MODEL_NAME)")
        return p

    p = cmd("register", "ytsentiment.registry:register_command", "register reports/run.json's model as @candidate")
    p.add_argument("--run", default="reports/run.json")
    p.add_argument("--metrics", default="reports/metrics.json")
    p.add_argument("--provenance", default="data/raw/sources.json")
    p.add_argument("--card", default="reports/model_card.md")
    p = cmd("promote", "ytsentiment.promotion:promote_command",
            "gate @candidate; promote it to @production when it passes")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--test", default="data/interim/test.parquet")
    p.add_argument("--report", default="reports/promotion.json")
    p.add_argument("--database-url", help="prediction log for gate.online's evidence (default: env DATABASE_URL, "
                                          "else the embedded SQLite)")
    p = cmd("rollback", "ytsentiment.registry:rollback_command", "move @production back to @previous")
    p.add_argument("--report", default="reports/rollback.json")
    p = cmd("challenge", "ytsentiment.registry:challenge_command",
            "point @challenger at VERSION (shadow-scored by the API beside production), or --clear it")
    p.add_argument("version", nargs="?", help="registered version to challenge production with")
    p.add_argument("--clear", action="store_true", help="remove @challenger (the API stops shadowing on restart)")
    p = cmd("export", "ytsentiment.registry:export_command", "copy a registered model to a local directory")
    p.add_argument("--alias", default="production")
    p.add_argument("--out", default="model")
    p = cmd("summary", "ytsentiment.gate:summary_command", "Markdown summary of metrics and the promotion decision")
    p.add_argument("--metrics", default="reports/metrics.json")
    p.add_argument("--report", default="reports/promotion.json")
    p = sub.add_parser("params", help="print one section of params.yaml, validated, as JSON")
    p.set_defaults(func=_params)
    p.add_argument("section", choices=PARAMS_SECTIONS)
    p.add_argument("--params", default="params.yaml")
    for name, (module, helptext) in PLUGINS.items():
        p = sub.add_parser(name, help=helptext)
        p.set_defaults(func=_runner(module, "run"))
        if name == verb:
            importlib.import_module(module).add_arguments(p)
    return ap


# Verbs that live with their feature: each module exposes ``add_arguments(parser)`` and ``run(args) -> int``
# (raising YtSentimentError for a clear exit 2), and is imported only when its verb runs. One line here wires a
# new verb.
PLUGINS: dict[str, tuple[str, str]] = {
    "db-upgrade": ("ytsentiment.storage.commands.db_upgrade", "create or migrate the database schema"),
    "log-writer": ("ytsentiment.storage.commands.log_writer", "load the API's prediction-log spool into the database"),
    "purge": ("ytsentiment.storage.commands.purge", "delete logged predictions older than --older-than (30d)"),
    "feedback": ("ytsentiment.storage.commands.feedback", "feedback export --out DIR: feedback as a training CSV"),
    "collect": ("ytsentiment.batch.collect", "YouTube comments of videos or a channel into incremental Parquet"),
    "score": ("ytsentiment.batch.score", "score a Parquet/CSV/JSONL of comments (pandas chunks or Spark)"),
    "load": ("ytsentiment.batch.aggregate", "scored comments -> per-video/month aggregates in the database"),
    "report": ("ytsentiment.batch.report", "a channel's aggregates -> self-contained HTML report"),
    "deploy": ("ytsentiment.deploy.cli", "ship an image through ECR and CodeDeploy (ytsentiment deploy --help)"),
    "monitor": ("ytsentiment.monitoring.cli", "drift + live quality of @production; the retrain decision"),
    "tune": ("ytsentiment.tuning.cli", "Optuna search of featurize/train knobs (MLflow); prints the dvc exp run line"),
    "demo": ("ytsentiment.demo.cli", "the API, a YouTube stand-in, batch path and monitor locally: no key, no cloud"),
    "predict": ("ytsentiment.predict", "label and confidence of each comment given, by the served model (--json)"),
}


PARAMS_SECTIONS = tuple(f.name for f in dataclasses.fields(config.Params) if f.name != "raw")


def _params(args: argparse.Namespace) -> int:
    section = getattr(config.load_params(args.params), args.section)
    print(json.dumps(section if isinstance(section, tuple) else dataclasses.asdict(section)))
    return 0


def _runner(module: str, function: str) -> Command:
    def run(args: argparse.Namespace) -> int:
        status: int = getattr(importlib.import_module(module), function)(args)
        return status

    return run


def package_version() -> str:
    """The installed distribution's version (pyproject's), or the source tree's when it is not installed."""
    try:
        return version("ytsentiment")
    except PackageNotFoundError:
        return __version__


def _dispatch(argv: list[str] | None) -> int:
    verb = next((arg for arg in argv or [] if not arg.startswith("-")), None)  # options before the verb take no value
    args = build_parser(verb).parse_args(argv)
    func: Command = args.func
    return func(args)


def main(argv: list[str] | None = None) -> int:
    load_env_file()  # before the parser: its defaults read the environment
    return run_main(_dispatch, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
