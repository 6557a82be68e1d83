"""`ytsentiment summary` (the CD job summary): the metrics table and the gate's decision, as written out by hand."""

from __future__ import annotations

import json

from ytsentiment.cli import main


def scope(f1: float, rows: int) -> dict:
    return {"macro_f1": f1, "accuracy": 0.5, "rows": rows}


METRICS = {
    "model": {"overall": scope(0.71234, 10), "human": scope(0.66666, 6), "source.a": scope(0.5, 6)},
    "textblob": {"overall": scope(0.5, 10), "human": scope(0.4, 6), "source.a": scope(0.4, 6)},
    "vader": {"overall": scope(0.55556, 10), "human": scope(0.6, 6), "source.a": scope(0.6, 6)},
}
REPORT = {"model": "m", "decision": "refused", "candidate_version": "3", "production_version": "2",
          "candidate": {"overall": 0.7123}, "production": {"overall": 0.75},
          "reasons": ["compare: overall macro-F1 0.7123 < production v2's 0.7500 (tolerance 0.0)"]}


def test_summary_prints_the_group_scopes_and_the_decision(tmp_path, capsys):
    metrics, report = tmp_path / "metrics.json", tmp_path / "promotion.json"
    metrics.write_text(json.dumps(METRICS), encoding="utf-8")
    report.write_text(json.dumps(REPORT), encoding="utf-8")
    assert main(["summary", "--metrics", str(metrics), "--report", str(report)]) == 0
    assert capsys.readouterr().out == "\n".join([
        "## ytsentiment",
        "",
        "| scope | model | TextBlob sign | VADER (±0.05) | rows |",
        "|---|---|---|---|---|",
        "| overall | 0.7123 | 0.5000 | 0.5556 | 10 |",
        "| human | 0.6667 | 0.4000 | 0.6000 | 6 |",
        "",
        "```",
        "REFUSED: m candidate v3 (production was v2)",
        "  candidate  macro-F1 overall 0.7123",
        "  production macro-F1 overall 0.7500",
        "  - compare: overall macro-F1 0.7123 < production v2's 0.7500 (tolerance 0.0)",
        "```",
    ]) + "\n"


def test_summary_without_reports_is_a_heading(tmp_path, capsys):
    assert main(["summary", "--metrics", str(tmp_path / "no.json"), "--report", str(tmp_path / "no.json")]) == 0
    assert capsys.readouterr().out == "## ytsentiment\n"
