"""``ytsentiment promote``: the gate (``ytsentiment.gate``) with the online evidence read from the prediction log.

``gate.online`` in params.yaml asks for evidence that the candidate did well while shadowing production
(``storage.shadow.online_evidence`` on DATABASE_URL or ``--database-url``); without it the database is not opened.
Kept apart from ``gate`` so the gate stays free of the database (``tuning`` uses the gate and must not reach it).
Exit codes as ``ytsentiment.cli``: 2 when the candidate is refused.
"""

from __future__ import annotations

from typing import Any

from ytsentiment import YtSentimentError
from ytsentiment.config import load_params
from ytsentiment.gate import format_decision, run_gate
from ytsentiment.storage.db import make_engine
from ytsentiment.storage.shadow import online_evidence


def promote_command(args) -> int:
    params = load_params(args.params)
    engine = make_engine(args.database_url) if params.gate.online is not None else None

    def evidence(production_version: str, candidate_version: str) -> dict[str, Any]:
        assert engine is not None  # only passed on when gate.online is set
        return online_evidence(engine, args.name, production_version, candidate_version, seed=params.seed)

    try:
        report = run_gate(args.name, args.params, args.test, args.report,
                          evidence=evidence if engine is not None else None)
    finally:
        if engine is not None:
            engine.dispose()
    print(format_decision(report))
    if report["decision"] == "refused":
        raise YtSentimentError(f"promotion refused (report: {args.report})")
    return 0
