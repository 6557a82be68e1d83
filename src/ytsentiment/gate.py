"""The promotion gate: `candidate` becomes `production` only if it is proven at least as good.

The candidate is loaded through ``models:/<name>@candidate`` exactly as a user of the registry would, then checked:
it loads; its output contract (classes, shapes, probabilities, the ``text`` input signature); the behavioural
suites; an in-process latency budget; absolute macro-F1 floors; and macro-F1 against the current `production`
version **re-scored on the same test rows** (logged numbers of older runs are never trusted). The decision, who
made it, when, why, and both models' figures are written onto the version as tags and returned as a report.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from ytsentiment import LABELS, YtSentimentError
from ytsentiment.artifact import INPUT_EXAMPLE
from ytsentiment.behaviour import run_all
from ytsentiment.config import GateParams
from ytsentiment.evaluate import score_by_scope
from ytsentiment.model import TEXT_COLUMN
from ytsentiment.registry import CANDIDATE, PRODUCTION, actor, alias_version, now, promote, tag_version

log = logging.getLogger(__name__)


def load(name: str, alias: str):
    import mlflow.sklearn

    return mlflow.sklearn.load_model(f"models:/{name}@{alias}")


def contract_problems(model, uri: str | None = None) -> list[str]:
    """What is wrong with the model's output contract (empty list when nothing is)."""
    problems = []
    # .item(): numpy scalars to Python values without assuming they are numbers (a broken model may use strings).
    classes = [c.item() if hasattr(c, "item") else c for c in getattr(model, "classes_", [])]
    if classes != list(LABELS):
        problems.append(f"classes_ is {classes}, expected {list(LABELS)}")
    try:
        labels = np.asarray(model.predict(INPUT_EXAMPLE))
        proba = np.asarray(model.predict_proba(INPUT_EXAMPLE))
    except Exception as exc:  # noqa: BLE001 - any failure to predict is a contract failure worth reporting
        return [*problems, f"predict failed on the input example: {type(exc).__name__}: {exc}"]
    n = len(INPUT_EXAMPLE)
    if labels.shape != (n,) or not set(labels.tolist()) <= set(LABELS):
        problems.append(f"predict returned {labels.tolist()!r}, expected {n} labels in {list(LABELS)}")
    if proba.shape != (n, len(LABELS)):
        problems.append(f"predict_proba returned shape {proba.shape}, expected {(n, len(LABELS))}")
    elif not np.allclose(proba.sum(axis=1), 1, atol=1e-4) or (proba < 0).any():
        problems.append("predict_proba rows are not probability distributions")
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
    return {scope: round(s["macro_f1"], 4) for scope, s in scores.items() if not scope.startswith("source.")}


def decide(name: str, gate: GateParams, test: pd.DataFrame) -> dict[str, Any]:
    """Run every check; promote on success. Returns the decision report (also written as version tags)."""
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
            for scope in gate.compare:
                c, p = cand_scores[scope]["macro_f1"], prod_scores[scope]["macro_f1"]
                if c < p - gate.tolerance:
                    reasons.append(f"compare: {scope} macro-F1 {c:.4f} < production v{prod_v}'s "
                                   f"{p:.4f} (tolerance {gate.tolerance})")
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
    if promoted and report.get("replaced_version"):
        tags["promotion.replaced_version"] = report["replaced_version"]
    tag_version(name, version, tags)
    return report
