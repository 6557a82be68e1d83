"""MLflow model registry: register a run's model as `candidate`, move aliases, roll back, export.

Aliases only (stages are deprecated): `candidate` is the newest registered version, `production` is what serves,
`previous` is the production version it replaced, `challenger` a version the API scores a sample of live requests
with, off the request path, beside production (``challenge``; decision 0017); promoting it clears the alias.
Every decision is written onto the version as tags, so the registry itself is the audit log; the CLI also writes it
to a JSON report.

``register_run`` is what ``ytsentiment register`` does with the evaluate stage's reports (run.json, metrics.json,
sources.json): register the run's model with its data and metric tags, and write the model card.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ytsentiment import YtSentimentError, modelcard
from ytsentiment.artifact import write_info
from ytsentiment.contract import registry_model_info
from ytsentiment.io import read_json, write_json
from ytsentiment.scoring import headline_scopes
from ytsentiment.tracking import use_tracking

log = logging.getLogger(__name__)

CANDIDATE, PRODUCTION, PREVIOUS, CHALLENGER = "candidate", "production", "previous", "challenger"
ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)$")
VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")


def client():
    from mlflow import MlflowClient

    use_tracking()
    return MlflowClient()


def actor() -> str:
    return os.environ.get("GITHUB_ACTOR") or os.environ.get("USER") or getpass.getuser()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def alias_version(name: str, alias: str):
    """The ModelVersion behind ``name@alias``, or None when the alias (or the model) does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return client().get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def resolve(uri: str) -> tuple[Any, str | None] | None:
    """``(ModelVersion, alias)`` behind a registry URI: ``models:/NAME@ALIAS`` -> (the version the alias points at
    now, ALIAS), ``models:/NAME/VERSION`` -> (that version, None); None for any other URI (a directory, runs:/...).
    Load ``models:/NAME/VERSION`` of the result, so the model cannot change if the alias moves meanwhile.
    Raises MlflowException when the model, alias or version does not exist."""
    if match := ALIAS_URI.match(uri):
        return client().get_model_version_by_alias(match["name"], match["alias"]), match["alias"]
    if match := VERSION_URI.match(uri):
        return client().get_model_version(match["name"], match["version"]), None
    return None


def register(name: str, run: dict[str, Any], tags: dict[str, str], description: str):
    """Register the run's logged model as a new version of ``name`` and point `candidate` at it."""
    import mlflow

    use_tracking()
    version = mlflow.register_model(run["model_uri"], name, tags=tags)
    c = client()
    c.update_model_version(name, version.version, description=description)
    c.set_registered_model_alias(name, CANDIDATE, version.version)
    log.info("registered %s version %s from run %s as @%s", name, version.version, run["run_id"], CANDIDATE)
    return version


def read_report(path: str | Path, what: str) -> Any:
    """A JSON report a DVC stage writes; a clear error when the pipeline has not produced it yet."""
    if not Path(path).is_file():
        raise YtSentimentError(f"{what} not found at {path}: run `make repro` (dvc repro) first")
    return read_json(path)


def version_tags(run_tags: dict[str, str], metrics: dict[str, Any]) -> dict[str, str]:
    """What a registered version carries: the run's git commit and data hashes, and the headline macro-F1s."""
    tags = {k: v for k, v in run_tags.items() if k == "git_commit" or k.startswith("data.")}
    tags.update({f"metric.{scope}.macro_f1": f"{metrics['model'][scope]['macro_f1']:.4f}"
                 for scope in headline_scopes(metrics["model"])})
    return tags


def register_run(name: str, run_path: str | Path, metrics_path: str | Path, provenance_path: str | Path,
                 card_path: str | Path):
    """Register the evaluate stage's run as @candidate with its tags; write the model card beside the reports,
    onto the run (artifact) and onto the version (description). Returns the new ModelVersion."""
    import mlflow
    from mlflow.exceptions import MlflowException

    run, metrics = read_report(run_path, "run record"), read_report(metrics_path, "metrics")
    sources = read_report(provenance_path, "source provenance")
    uri = use_tracking()
    try:
        run_tags = mlflow.get_run(run["run_id"]).data.tags
    except MlflowException as exc:
        raise YtSentimentError(f"register: cannot read run {run['run_id']} (from {run_path}) in the tracking store "
                               f"{uri}: {exc.message}. Was it logged with another MLFLOW_TRACKING_URI?") from exc
    tags = version_tags(run_tags, metrics)
    version = register(name, run, tags, description="(model card follows)")
    card = modelcard.render(name, version.version, run, metrics, sources, tags.get("git_commit", "unknown"))
    card_path = Path(card_path)
    card_path.parent.mkdir(parents=True, exist_ok=True)
    card_path.write_text(card, encoding="utf-8")
    c = client()
    c.log_artifact(run["run_id"], str(card_path))
    c.update_model_version(name, version.version, description=card)
    return version


def tag_version(name: str, version: str, tags: dict[str, Any]) -> None:
    c = client()
    for key, value in tags.items():
        c.set_model_version_tag(name, version, key, str(value))


def promote(name: str, version: str) -> str | None:
    """`production` -> version; the replaced production version keeps `previous`. Returns the replaced version."""
    c = client()
    current = alias_version(name, PRODUCTION)
    # Versions are ints from the sqlite store and strings from a server: compare and report them as strings.
    replaced = str(current.version) if current is not None else None
    if replaced is not None and replaced != str(version):
        c.set_registered_model_alias(name, PREVIOUS, replaced)
    c.set_registered_model_alias(name, PRODUCTION, str(version))
    challenger = alias_version(name, CHALLENGER)
    if challenger is not None and str(challenger.version) == str(version):  # it serves now: nothing to shadow
        c.delete_registered_model_alias(name, CHALLENGER)
        log.info("%s v%s was @%s: alias cleared", name, version, CHALLENGER)
    return replaced


def challenge(name: str, version: str | None) -> dict[str, Any]:
    """Point `challenger` at ``version`` (None: clear it). Refuses a version that does not exist and the version
    `production` points at. Returns what was done (``from_version``, ``to_version``, by, at)."""
    from mlflow.exceptions import MlflowException

    c = client()
    current = alias_version(name, CHALLENGER)
    record = {"action": "challenge", "model": name, "from_version": str(current.version) if current else None,
              "to_version": None, "by": actor(), "at": now()}
    if version is None:
        if current is not None:
            c.delete_registered_model_alias(name, CHALLENGER)
            tag_version(name, str(current.version), {"challenger.cleared_at": record["at"],
                                                     "challenger.cleared_by": record["by"]})
        return record
    try:
        found = c.get_model_version(name, str(version))
    except MlflowException:
        raise YtSentimentError(f"challenge: model '{name}' has no version {version!r}; `ytsentiment register` makes "
                               "versions (see the registry)") from None
    production = alias_version(name, PRODUCTION)
    if production is not None and str(production.version) == str(found.version):
        raise YtSentimentError(f"challenge: v{found.version} is @{PRODUCTION} already; a challenger is another "
                               "version, scored beside it")
    c.set_registered_model_alias(name, CHALLENGER, str(found.version))
    tag_version(name, str(found.version), {"challenger.since": record["at"], "challenger.by": record["by"]})
    record["to_version"] = str(found.version)
    log.info("%s@%s -> v%s (was %s)", name, CHALLENGER, found.version, record["from_version"] or "none")
    return record


def rollback(name: str) -> dict[str, Any]:
    """`production` goes back to `previous`; `previous` moves one step further back when the history allows."""
    c = client()
    current, previous = alias_version(name, PRODUCTION), alias_version(name, PREVIOUS)
    if current is None:
        raise YtSentimentError(f"rollback: model '{name}' has no @{PRODUCTION} version; nothing to roll back")
    if previous is None:
        raise YtSentimentError(
            f"rollback: model '{name}' has no @{PREVIOUS} version (production is v{current.version}, "
            "promoted without a predecessor); nothing to roll back to"
        )
    cur_v, prev_v = str(current.version), str(previous.version)
    c.set_registered_model_alias(name, PRODUCTION, prev_v)
    # The version we return to remembers what it replaced when it was promoted: that becomes the new `previous`.
    older = (previous.tags or {}).get("promotion.replaced_version")
    if older and older != prev_v:
        c.set_registered_model_alias(name, PREVIOUS, older)
    else:
        c.delete_registered_model_alias(name, PREVIOUS)
    # A candidate that is the version just demoted would be promoted straight back by the next `make promote`.
    candidate = alias_version(name, CANDIDATE)
    if candidate is not None and str(candidate.version) == cur_v:
        c.delete_registered_model_alias(name, CANDIDATE)
    record = {"action": "rollback", "model": name, "from_version": cur_v,
              "to_version": prev_v, "previous_now": older or None, "by": actor(), "at": now()}
    tag_version(name, cur_v, {"rollback.demoted_at": record["at"], "rollback.by": record["by"]})
    tag_version(name, prev_v, {"rollback.restored_at": record["at"], "rollback.by": record["by"],
                               "rollback.from_version": cur_v})
    log.info("rolled back %s: production v%s -> v%s", name, cur_v, prev_v)
    return record


def export(name: str, alias: str, out: str | Path) -> dict[str, Any]:
    """Copy ``name@alias`` to a local MLflow model directory plus model_info.json (what the image serves)."""
    import mlflow

    version = alias_version(name, alias)
    if version is None:
        raise YtSentimentError(f"export: model '{name}' has no @{alias} version; run `make promote` first")
    out = Path(out)
    # Only ever replace an earlier export: `--out .` or a typo must not wipe a folder of other files.
    if out.exists() and not (out / "MLmodel").is_file() and (not out.is_dir() or any(out.iterdir())):
        raise YtSentimentError(f"export: {out} exists and is not an MLflow model directory; refusing to replace it "
                               "(remove it or choose another --out)")
    # Download beside the target and swap at the end, so a failed download leaves the earlier export intact.
    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}@{alias}", dst_path=str(partial))
    # trained_at: when the run that trained and evaluated it finished (registration may come much later).
    info = registry_model_info(client(), version, uri=f"models:/{name}@{alias}", alias=alias)
    write_info(partial, info)
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    log.info("exported %s@%s (v%s) to %s", name, alias, version.version, out)
    return info


# ---- `ytsentiment register | rollback | export` (arguments: ytsentiment.cli) ---------------------------------

def register_command(args) -> int:
    version = register_run(args.name, args.run, args.metrics, args.provenance, args.card)
    print(f"registered {args.name} v{version.version} as @{CANDIDATE} (model card: {args.card})")
    return 0


def rollback_command(args) -> int:
    record = rollback(args.name)
    write_json(args.report, record)
    print(f"rolled back {args.name}: production v{record['from_version']} -> v{record['to_version']}")
    return 0


def challenge_command(args) -> int:
    if (args.version is None) == (not args.clear):
        raise YtSentimentError("challenge: give a VERSION or --clear (not both)")
    record = challenge(args.name, None if args.clear else args.version)
    if args.clear:
        print(f"{args.name}: @{CHALLENGER} cleared" + (f" (was v{record['from_version']})" if record["from_version"]
                                                        else " (there was none)"))
    else:
        print(f"{args.name}: @{CHALLENGER} -> v{record['to_version']}; API workers pick it up when they start "
              "(restart or reload them: decision 0017)")
    return 0


def export_command(args) -> int:
    info = export(args.name, args.alias, args.out)
    print(f"exported {args.name}@{args.alias} v{info['version']} to {args.out}")
    return 0
