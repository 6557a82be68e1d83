"""The promotion gate: `candidate` becomes `production` only if it is proven at least as good.

The candidate is loaded through ``models:/<name>@candidate`` exactly as a user of the registry would, then checked:
it loads; its output contract (classes, shapes, probabilities, the ``text`` input signature); the behavioural
suites; an in-process latency budget; absolute macro-F1 floors; and macro-F1 against the current `production`
version **re-scored on the same test rows** (logged numbers of older runs are never trusted), for the headline
scopes and for every source of the test rows on its own (so a pooled gain cannot hide a loss on one source).
With ``gate.online`` the candidate also needs online evidence from shadowing production
(``evidence(production_version, candidate_version)``: what ``ytsentiment.promotion`` reads from the prediction log
with ``storage.shadow.online_evidence``): enough comments scored beside production, enough feedback about them, a
live macro-F1 no worse than production's within the tolerance. The decision, who made it, when, why, and both
models' figures are written onto the version as tags (the online evidence also as a section of its model card) and
returned as a report.

``run_gate`` is what ``ytsentiment promote`` (``ytsentiment.promotion``) does: read params and the clean stage's
test rows, decide, write reports/promotion.json; ``format_decision`` is the report's short text form (CLI output) and
``summary`` the CI job summary (metrics and the decision).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ytsentiment import YtSentimentError, modelcard
from ytsentiment.behaviour import run_all
from ytsentiment.config import GateParams, OnlineGateParams, load_params
from ytsentiment.contract import INPUT_EXAMPLE, TEXT_COLUMN, output_problems
from ytsentiment.io import read_json, write_json
from ytsentiment.registry import (
    CANDIDATE,
    PRODUCTION,
    actor,
    alias_version,
    client,
    now,
    promote,
    tag_version,
)
from ytsentiment.scoring import SOURCE_PREFIX, headline_scopes, macro_f1_table, score_by_scope

log = logging.getLogger(__name__)

TEST_COLUMNS = (TEXT_COLUMN, "label", "source", "group")  # what the clean stage writes and the gate scores on


def load(name: str, alias: str):
    import mlflow.sklearn

    return mlflow.sklearn.load_model(f"models:/{name}@{alias}")


def contract_problems(model, uri: str | None = None) -> list[str]:
    """What is wrong with the model's contract (empty list when nothing is): its output (``contract.output_problems``)
    and, given the model's ``uri``, its MLflow signature (one input column, ``text``)."""
    problems = output_problems(model)
    if uri is not None:
        from mlflow.models import get_model_info

        signature = get_model_info(uri).signature
        inputs = signature.inputs.input_names() if signature is not None else []
        if inputs != [TEXT_COLUMN]:
            problems.append(f"signature inputs are {inputs}, expected ['{TEXT_COLUMN}']")
    return problems


def latency_ms(model, comments: int, repeats: int = 5) -> float:
    """Median wall time of one in-process predict_proba over ``comments`` realistic comments."""
    texts = (INPUT_EXAMPLE[TEXT_COLUMN].tolist() * (comments // len(INPUT_EXAMPLE) + 1))[:comments]
    frame = pd.DataFrame({TEXT_COLUMN: texts})
    model.predict_proba(frame)  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict_proba(frame)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times))


def _headline(scores: dict[str, dict]) -> dict[str, float]:
    return {scope: round(scores[scope]["macro_f1"], 4) for scope in headline_scopes(scores)}


def source_tolerance(gate: GateParams, source: str) -> float | None:
    """How far ``source`` may fall below production: its override, else ``gate.source_tolerance`` (None: unwatched)."""
    return gate.source_tolerances[source] if source in gate.source_tolerances else gate.source_tolerance


def compare_sources(gate: GateParams, cand_scores: dict[str, dict], prod_scores: dict[str, dict],
                    prod_v: str | None) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Candidate vs production macro-F1 on each source of the test rows: (one entry per source, refusal reasons).

    An entry holds both figures, the change, the tolerance and a ``result``: ``ok``, ``failed``, ``not watched``
    (tolerance None) or why it could not be compared (a source missing from one side's scores; an override naming a
    source the test rows do not have).
    """
    scored = {s.removeprefix(SOURCE_PREFIX) for s in (*cand_scores, *prod_scores) if s.startswith(SOURCE_PREFIX)}
    entries: dict[str, dict[str, Any]] = {}
    reasons = []
    for source in sorted(scored | set(gate.source_tolerances)):
        scope, tolerance = f"{SOURCE_PREFIX}{source}", source_tolerance(gate, source)
        c, p = (scores.get(scope, {}).get("macro_f1") for scores in (cand_scores, prod_scores))
        if c is None or p is None:  # the same rows give both sides the same scopes: say so rather than crash
            missing = "the test rows have no such source" if c is None and p is None else (
                f"no {'candidate' if c is None else 'production'} figure")
            entries[source] = {"candidate": None if c is None else round(c, 4),
                               "production": None if p is None else round(p, 4), "tolerance": tolerance,
                               "result": f"not compared: {missing}"}
            continue
        failed = tolerance is not None and c < p - tolerance
        entries[source] = {"candidate": round(c, 4), "production": round(p, 4), "change": round(c - p, 4),
                           "tolerance": tolerance, "rows": cand_scores[scope]["rows"],
                           "result": "not watched" if tolerance is None else "failed" if failed else "ok"}
        if failed:
            reasons.append(f"source: {source} macro-F1 {c:.4f} < production v{prod_v}'s {p:.4f} "
                           f"(tolerance {tolerance})")
    return entries, reasons


def read_test_rows(path: str | Path) -> pd.DataFrame:
    """The clean stage's held-out rows, checked for the columns the gate scores on."""
    if not Path(path).is_file():
        raise YtSentimentError(f"test rows not found at {path}: run `make repro` first")
    test = pd.read_parquet(path)
    missing = sorted(set(TEST_COLUMNS) - set(test.columns))
    if missing:
        raise YtSentimentError(f"test rows at {path}: missing columns {missing} (expected the clean stage's "
                               "text, label, source, group)")
    return test


Evidence = Callable[[str, str], dict[str, Any]]  # (production version, candidate version) -> online evidence


def run_gate(name: str, params_path: str | Path, test_path: str | Path, report_path: str | Path,
             evidence: Evidence | None = None) -> dict[str, Any]:
    """Gate ``name@candidate`` with params.yaml's ``gate`` section on the test rows; write and return the report.
    ``evidence`` answers ``gate.online`` (required when it is set)."""
    params = load_params(params_path)
    report = decide(name, params.gate, read_test_rows(test_path), evidence=evidence)
    write_json(report_path, report)
    return report


def check_online(online: OnlineGateParams, evidence: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``gate.online`` on the candidate's evidence (``storage.shadow.online_evidence``): (the check's entry for the
    report, refusal reasons)."""
    live = evidence["live"]
    entry = {"production_version": evidence["production_version"], "n_shadowed": evidence["n_shadowed"],
             "agreement": evidence["agreement"], "n_feedback": live["n_feedback"],
             "min_shadowed": online.min_shadowed, "min_feedback": online.min_feedback, "tolerance": online.tolerance}
    reasons = []
    if evidence["n_shadowed"] < online.min_shadowed:
        reasons.append(f"online: {evidence['n_shadowed']} comments shadowed beside production "
                       f"v{evidence['production_version']} < {online.min_shadowed} (`ytsentiment challenge "
                       f"{evidence['challenger_version']}` and let it serve a while)")
    if live["n_feedback"] < online.min_feedback:
        reasons.append(f"online: {live['n_feedback']} feedback rows about the shadowed comments < "
                       f"{online.min_feedback}")
    if live["n_feedback"]:
        c, p = live["challenger"], live["production"]
        entry.update(candidate_macro_f1=c["macro_f1"], candidate_interval=[c["low"], c["high"]],
                     production_macro_f1=p["macro_f1"], production_interval=[p["low"], p["high"]],
                     difference=live["difference"]["macro_f1"],
                     difference_interval=[live["difference"]["low"], live["difference"]["high"]])
        if c["macro_f1"] < p["macro_f1"] - online.tolerance:
            reasons.append(f"online: live macro-F1 {c['macro_f1']:.4f} < production v{evidence['production_version']}"
                           f"'s {p['macro_f1']:.4f} on the same {live['n_feedback']} feedback rows (tolerance "
                           f"{online.tolerance})")
    entry["result"] = "failed" if reasons else "ok"
    return entry, reasons


def format_decision(report: dict[str, Any]) -> str:
    """The decision in a few lines: verdict and versions, both models' macro-F1 (headline scopes, then each source
    compared), the reasons."""
    prod_v = report["production_version"]
    lines = [f"{report['decision'].upper()}: {report['model']} candidate v{report['candidate_version']}"
             f" (production was {('v' + prod_v) if prod_v else 'none'})"]
    for who in ("candidate", "production"):
        if who in report:
            lines.append(f"  {who:<10} macro-F1 " + ", ".join(f"{k} {v:.4f}" for k, v in report[who].items()))
    if online := report.get("checks", {}).get("online"):
        lines.append("  online: " + ", ".join(f"{k} {v}" for k, v in online.items() if k != "result")
                     + f": {online['result']}")
    for source, e in report.get("checks", {}).get("sources", {}).items():
        figures = (f"candidate {e['candidate']:.4f} production {e['production']:.4f} change {e['change']:+.4f} "
                   f"tolerance {e['tolerance']}: " if "change" in e else "")
        lines.append(f"  source {source}: {figures}{e['result']}")
    lines += [f"  - {reason}" for reason in report["reasons"]]
    return "\n".join(lines)


def summary(metrics_path: str | Path, report_path: str | Path) -> str:
    """Markdown for ``$GITHUB_STEP_SUMMARY``: macro-F1 per group scope and the promotion decision, where present."""
    lines = ["## ytsentiment"]
    if Path(metrics_path).is_file():
        metrics = read_json(metrics_path)
        lines += ["", macro_f1_table(metrics, headline_scopes(metrics["model"]), digits=4)]
    if Path(report_path).is_file():
        lines += ["", "```", format_decision(read_json(report_path)), "```"]
    return "\n".join(lines)


def decide(name: str, gate: GateParams, test: pd.DataFrame, evidence: Evidence | None = None) -> dict[str, Any]:
    """Run every check; promote on success. Returns the decision report (also written as version tags).
    ``evidence``: the candidate's online evidence, asked for when ``gate.online`` is set."""
    candidate = alias_version(name, CANDIDATE)
    if candidate is None:
        raise YtSentimentError(f"gate: model '{name}' has no @{CANDIDATE} version; run `make register` first")
    production = alias_version(name, PRODUCTION)
    # Versions are ints from the sqlite store and strings from a server: report them as strings.
    cand_v, prod_v = str(candidate.version), (str(production.version) if production else None)
    report: dict[str, Any] = {
        "model": name, "candidate_version": cand_v, "production_version": prod_v,
        "by": actor(), "at": now(), "rows": len(test), "reasons": [], "checks": {},
    }
    reasons = report["reasons"]
    if prod_v == cand_v:
        report.update(decision="unchanged", reasons=[f"v{cand_v} is already @{PRODUCTION}"])
        return report

    uri = f"models:/{name}@{CANDIDATE}"
    try:
        model = load(name, CANDIDATE)
    except Exception as exc:  # noqa: BLE001 - a candidate that cannot load is refused, with the reason shown
        reasons.append(f"candidate does not load from {uri}: {type(exc).__name__}: {exc}")
        return _finish(name, cand_v, report, promoted=False)

    problems = contract_problems(model, uri)
    report["checks"]["contract"] = problems or "ok"
    reasons += [f"contract: {p}" for p in problems]
    if problems:  # nothing further is meaningful on a model that breaks its contract
        return _finish(name, cand_v, report, promoted=False)

    suites = run_all(model)
    report["checks"]["behaviour"] = {s.name: {"pass_rate": round(s.pass_rate, 3), "failures": s.failures}
                                     for s in suites}
    reasons += [f"behaviour: {s.name} pass rate {s.pass_rate:.2f} < {gate.behaviour_min_pass_rate}"
                f" ({'; '.join(s.failures[:3])})" for s in suites if s.pass_rate < gate.behaviour_min_pass_rate]

    ms = latency_ms(model, gate.latency_comments)
    report["checks"]["latency_ms"] = round(ms, 1)
    if ms > gate.latency_budget_ms:
        reasons.append(f"latency: {ms:.0f} ms for {gate.latency_comments} comments > {gate.latency_budget_ms} ms")

    cand_scores = score_by_scope(test, model.predict(test[[TEXT_COLUMN]]))
    report["candidate"] = _headline(cand_scores)
    for scope, floor in gate.floors.items():
        got = cand_scores.get(scope, {}).get("macro_f1")
        if got is None:
            reasons.append(f"floor: the test rows have no scope '{scope}'")
        elif got < floor:
            reasons.append(f"floor: {scope} macro-F1 {got:.4f} < {floor}")

    if production is not None:
        try:
            prod_scores = score_by_scope(test, load(name, PRODUCTION).predict(test[[TEXT_COLUMN]]))
        except Exception as exc:  # noqa: BLE001 - say so; the candidate is then judged on floors alone
            report["production_error"] = f"{type(exc).__name__}: {exc}"
            log.warning("production v%s could not be re-scored: %s", prod_v, exc)
        else:
            report["production"] = _headline(prod_scores)
            present = [s for s in gate.compare_if_present if s in cand_scores and s in prod_scores]
            report["checks"]["compared"] = [*gate.compare, *present]
            for scope in (*gate.compare, *present):
                c, p = cand_scores[scope]["macro_f1"], prod_scores[scope]["macro_f1"]
                if c < p - gate.tolerance:
                    reasons.append(f"compare: {scope} macro-F1 {c:.4f} < production v{prod_v}'s "
                                   f"{p:.4f} (tolerance {gate.tolerance})")
            sources, failed = compare_sources(gate, cand_scores, prod_scores, prod_v)
            report["checks"]["sources"] = sources
            report["checks"]["sources_compared"] = [s for s, e in sources.items() if e["result"] in ("ok", "failed")]
            report["checks"]["sources_failed"] = [s for s, e in sources.items() if e["result"] == "failed"]
            reasons += failed
    if gate.online is not None:
        if prod_v is None:
            report["checks"]["online"] = {"result": "not applicable: no production version to shadow"}
        else:
            if evidence is None:
                raise YtSentimentError("gate: gate.online is set but no online evidence was given (`ytsentiment "
                                       "promote` reads it from the prediction log)")
            entry, failed = check_online(gate.online, evidence(prod_v, cand_v))
            report["checks"]["online"] = entry
            reasons += failed
    return _finish(name, cand_v, report, promoted=not reasons)


def _finish(name: str, version: str, report: dict[str, Any], promoted: bool) -> dict[str, Any]:
    report["decision"] = "promoted" if promoted else "refused"
    if promoted:
        replaced = promote(name, version)
        report["replaced_version"] = replaced
    tags = {"gate.decision": report["decision"], "gate.at": report["at"], "gate.by": report["by"],
            "gate.reasons": "; ".join(report["reasons"])[:4000] or "all checks passed"}
    for who in ("candidate", "production"):
        for scope, value in report.get(who, {}).items():
            tags[f"gate.{who}.{scope}.macro_f1"] = value
    sources = report["checks"].get("sources", {})
    for source, entry in sources.items():
        tags[f"gate.source.{source}"] = ", ".join(f"{k} {v}" for k, v in entry.items() if k != "result") + (
            f": {entry['result']}")
    if sources:
        for key in ("compared", "failed"):
            tags[f"gate.sources.{key}"] = ", ".join(report["checks"][f"sources_{key}"]) or "none"
    online = report["checks"].get("online")
    if online is not None:
        tags.update({f"gate.online.{k}": v if not isinstance(v, list) else f"{v[0]}..{v[1]}"
                     for k, v in online.items()})
        c = client()
        card = c.get_model_version(name, version).description or ""
        c.update_model_version(name, version, description=modelcard.with_online_evidence(card, online,
                                                                                         report["decision"]))
    if promoted and report.get("replaced_version"):
        tags["promotion.replaced_version"] = report["replaced_version"]
    tag_version(name, version, tags)
    return report


# ---- `ytsentiment summary` (arguments: ytsentiment.cli; `promote` is ytsentiment.promotion) ------------------

def summary_command(args) -> int:
    print(summary(args.metrics, args.report))
    return 0
