"""`ytsentiment <command>`: the non-DVC commands (registry, gate, export, deploy, CI summary).

    register   reports/run.json -> new registry version, alias `candidate`, model card
    promote    gate the candidate; on success `production` moves to it (the old one keeps `previous`)
    rollback   `production` goes back to `previous`
    export     copy name@production to a local model directory (what the Docker image serves)
    deploy     ship an image through ECR and CodeDeploy (see ytsentiment.deploy.cli)
    summary    Markdown of the metrics and the last promotion decision (for $GITHUB_STEP_SUMMARY)

Exit codes: 0 ok, 1 unexpected error, 2 refused or bad input (the message says why).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ytsentiment import YtSentimentError, config
from ytsentiment.io import write_json
from ytsentiment.logs import run_main


def cmd_register(args) -> int:
    from ytsentiment import registry

    version = registry.register_run(args.name, args.run, args.metrics, args.provenance, args.card)
    print(f"registered {args.name} v{version.version} as @{registry.CANDIDATE} (model card: {args.card})")
    return 0


def cmd_promote(args) -> int:
    from ytsentiment import gate

    report = gate.run_gate(args.name, args.params, args.test, args.report)
    print(gate.format_decision(report))
    if report["decision"] == "refused":
        raise YtSentimentError(f"promotion refused (report: {args.report})")
    return 0


def cmd_rollback(args) -> int:
    from ytsentiment import registry

    record = registry.rollback(args.name)
    write_json(args.report, record)
    print(f"rolled back {args.name}: production v{record['from_version']} -> v{record['to_version']}")
    return 0


def cmd_export(args) -> int:
    from ytsentiment import registry

    info = registry.export(args.name, args.alias, args.out)
    print(f"exported {args.name}@{args.alias} v{info['version']} to {args.out}")
    return 0


def cmd_summary(args) -> int:
    from ytsentiment import modelcard

    print(modelcard.summary(args.metrics, args.report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="ytsentiment", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)

    def cmd(name, func, helptext):
        p = sub.add_parser(name, help=helptext)
        p.set_defaults(func=func)
        p.add_argument("--name", default=config.model_name(), help="registered model name (env MODEL_NAME)")
        return p

    p = cmd("register", cmd_register, "register reports/run.json's model as @candidate")
    p.add_argument("--run", default="reports/run.json")
    p.add_argument("--metrics", default="reports/metrics.json")
    p.add_argument("--provenance", default="data/raw/sources.json")
    p.add_argument("--card", default="reports/model_card.md")
    p = cmd("promote", cmd_promote, "gate @candidate; promote it to @production when it passes")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--test", default="data/interim/test.parquet")
    p.add_argument("--report", default="reports/promotion.json")
    p = cmd("rollback", cmd_rollback, "move @production back to @previous")
    p.add_argument("--report", default="reports/rollback.json")
    p = cmd("export", cmd_export, "copy a registered model to a local directory")
    p.add_argument("--alias", default="production")
    p.add_argument("--out", default="model")
    p = cmd("summary", cmd_summary, "Markdown summary of metrics and the promotion decision")
    p.add_argument("--metrics", default="reports/metrics.json")
    p.add_argument("--report", default="reports/promotion.json")
    for verb, (module, helptext) in PLUGINS.items():
        p = sub.add_parser(verb, help=helptext)
        p.set_defaults(func=_plugin_runner(module))
        importlib.import_module(module).add_arguments(p)
    return ap


# Verbs that live with their feature: each module exposes ``add_arguments(parser)`` and ``run(args) -> int``
# (raising YtSentimentError for a clear exit 2). One line here wires a new verb.
PLUGINS: dict[str, tuple[str, str]] = {
    "db-upgrade": ("ytsentiment.storage.commands.db_upgrade", "create or migrate the database schema"),
    "purge": ("ytsentiment.storage.commands.purge", "delete logged predictions older than --older-than (30d)"),
    "feedback": ("ytsentiment.storage.commands.feedback", "feedback export --out DIR: feedback as a training CSV"),
    "collect": ("ytsentiment.batch.collect", "YouTube comments of videos or a channel into incremental Parquet"),
    "score": ("ytsentiment.batch.score", "score a Parquet/CSV/JSONL of comments (pandas chunks or Spark)"),
    "load": ("ytsentiment.batch.aggregate", "scored comments -> per-video/month aggregates in the database"),
    "report": ("ytsentiment.batch.report", "a channel's aggregates -> self-contained HTML report"),
    "deploy": ("ytsentiment.deploy.cli", "ship an image through ECR and CodeDeploy (ytsentiment deploy --help)"),
    "monitor": ("ytsentiment.monitoring.cli", "drift + live quality of @production; the retrain decision"),
    "tune": ("ytsentiment.tuning.cli", "Optuna search of featurize/train knobs (MLflow); prints the dvc exp run line"),
}


def _plugin_runner(module: str):
    def run(args) -> int:
        return importlib.import_module(module).run(args)

    return run


def _dispatch(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


def main(argv: list[str] | None = None) -> int:
    return run_main(_dispatch, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
