"""`ytsentiment <command>`: the non-DVC commands (registry, gate, export, deploy, CI summary).

    register   reports/run.json -> new registry version, alias `candidate`, model card
    promote    gate the candidate; on success `production` moves to it (the old one keeps `previous`)
    rollback   `production` goes back to `previous`
    export     copy name@production to a local model directory (what the Docker image serves)
    deploy     ship an image through ECR and CodeDeploy (see ytsentiment.deploy)
    summary    Markdown of the metrics and the last promotion decision (for $GITHUB_STEP_SUMMARY)

Exit codes: 0 ok, 1 unexpected error, 2 refused or bad input (the message says why).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import pandas as pd

from ytsentiment import YtSentimentError, config
from ytsentiment.io import read_json, write_json
from ytsentiment.logs import run_main

log = logging.getLogger("ytsentiment.cli")


def _read(path: str, what: str):
    if not Path(path).is_file():
        raise YtSentimentError(f"{what} not found at {path}: run `make repro` (dvc repro) first")
    return read_json(path)


def cmd_register(args) -> int:
    import mlflow
    from mlflow.exceptions import MlflowException

    from ytsentiment import modelcard, registry
    from ytsentiment.tracking import use_tracking

    run, metrics = _read(args.run, "run record"), _read(args.metrics, "metrics")
    sources = _read(args.provenance, "source provenance")
    uri = use_tracking()
    try:
        tags = mlflow.get_run(run["run_id"]).data.tags
    except MlflowException as exc:
        raise YtSentimentError(f"register: cannot read run {run['run_id']} (from {args.run}) in the tracking store "
                               f"{uri}: {exc.message}. Was it logged with another MLFLOW_TRACKING_URI?") from exc
    keep = {k: v for k, v in tags.items() if k == "git_commit" or k.startswith("data.")}
    keep.update({f"metric.{scope}.macro_f1": f"{metrics['model'][scope]['macro_f1']:.4f}"
                 for scope in metrics["model"] if not scope.startswith("source.")})
    version = registry.register(args.name, run, keep, description="(model card follows)")
    card = modelcard.render(args.name, version.version, run, metrics, sources, keep.get("git_commit", "unknown"))
    Path(args.card).parent.mkdir(parents=True, exist_ok=True)
    Path(args.card).write_text(card, encoding="utf-8")
    mlflow.MlflowClient().log_artifact(run["run_id"], args.card)
    registry.client().update_model_version(args.name, version.version, description=card)
    print(f"registered {args.name} v{version.version} as @{registry.CANDIDATE} (model card: {args.card})")
    return 0


def cmd_promote(args) -> int:
    from ytsentiment.gate import decide

    params = config.load_params(args.params)
    if not Path(args.test).is_file():
        raise YtSentimentError(f"test rows not found at {args.test}: run `make repro` first")
    test = pd.read_parquet(args.test)
    missing = sorted({"text", "label", "source", "group"} - set(test.columns))
    if missing:
        raise YtSentimentError(f"test rows at {args.test}: missing columns {missing} (expected the clean stage's "
                               "text, label, source, group)")
    report = decide(args.name, params.gate, test)
    write_json(args.report, report)
    print(format_decision(report))
    if report["decision"] == "refused":
        raise YtSentimentError(f"promotion refused (report: {args.report})")
    return 0


def format_decision(report: dict) -> str:
    lines = [f"{report['decision'].upper()}: {report['model']} candidate v{report['candidate_version']}"
             f" (production was {('v' + report['production_version']) if report['production_version'] else 'none'})"]
    for who in ("candidate", "production"):
        if who in report:
            lines.append(f"  {who:<10} macro-F1 " + ", ".join(f"{k} {v:.4f}" for k, v in report[who].items()))
    lines += [f"  - {reason}" for reason in report["reasons"]]
    return "\n".join(lines)


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
    lines = ["## ytsentiment"]
    if Path(args.metrics).is_file():
        m = read_json(args.metrics)
        lines += ["", "| scope | model | TextBlob | VADER |", "|---|---|---|---|"]
        for scope in (s for s in m["model"] if not s.startswith("source.")):
            lines.append(f"| {scope} | " + " | ".join(f"{m[k][scope]['macro_f1']:.4f}"
                                                      for k in ("model", "textblob", "vader")) + " |")
    if Path(args.report).is_file():
        lines += ["", "```", format_decision(read_json(args.report)), "```"]
    print("\n".join(lines))
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
    sub.add_parser("deploy", help="ship an image through ECR and CodeDeploy (ytsentiment deploy --help)",
                   add_help=False)
    return ap


def _dispatch(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["deploy"]:  # its own parser, exit codes and logging set-up
        from ytsentiment import deploy

        return deploy.main(argv[1:])
    return run_main(_dispatch, argv)


if __name__ == "__main__":
    raise SystemExit(main())
