"""monitoring/report.py without a browser: Evidently's embedded data made inert, and a page it cannot vouch for left
out (the Chromium checks are in test_job.py)."""

from __future__ import annotations

import json

from ytsentiment.monitoring import report

DASHBOARD = "metric_" + "0123456789abcdef" * 2
DATA = {"widgets": [{"params": {"data": [["great video </script><img src=x onerror=alert(1)>"], ["<!--<script>"]]}}]}
# The layout of Evidently 0.7's standalone page (evidently/legacy/utils/dashboard.py, file_html_template), by hand.
PAGE = ("<!DOCTYPE html><html><head><style>p{}</style>\n<script>\n"
        f"    var {DASHBOARD} = {json.dumps(DATA)};\n"
        f"    var additional_graphs_{DASHBOARD} = {json.dumps({'g': '</b>'})};\n</script>\n</head><body>"
        f"<script>var global = globalThis</script><script>window.drawDashboard({DASHBOARD})</script></body></html>")
SUMMARY = {"decision": "ok", "model_name": "ytsentiment", "model_version": "3", "run_at": "2026-03-02", "reasons": [],
           "window": {"by": "count", "size_or_hours": 400, "start": "a", "end": "b", "n_predictions": 400},
           "live_quality": {"n_feedback": 0, "enough_data": False, "min_feedback": 30},
           "params": {"live_f1_floor": 0.5}, "drift": None, "test_split": None}


class FakeSnapshot:
    def __init__(self, page: str):
        self.page = page

    def get_html_str(self, as_iframe: bool) -> str:
        assert not as_iframe
        return self.page


def test_evidently_data_keeps_its_values_but_no_markup():
    safe = report.inert_evidently_page(PAGE)

    assert safe is not None and "</script><img" not in safe and "<!--<script>" not in safe and "</b>" not in safe
    data, graphs = (line.split(" = ", 1)[1].rstrip(";") for line in safe.splitlines() if line.startswith("    var "))
    assert (json.loads(data), json.loads(graphs)) == (DATA, {"g": "</b>"})  # the same strings, as JavaScript reads
    assert safe.replace("\\u003c", "<") == PAGE  # and nothing else touched


def test_the_report_allows_only_evidentlys_scripts_in_a_sandbox():
    page = report.render_html(SUMMARY, {"window vs baseline": FakeSnapshot(PAGE)})

    assert page.count("sandbox=allow-scripts srcdoc=") == 1
    assert page.count("'sha256-") == 3  # the data, `global`, drawDashboard


def test_a_page_laid_out_otherwise_is_left_out(caplog):
    page = report.render_html(SUMMARY, {"window vs baseline": FakeSnapshot("<script>var data = {}</script>")})

    assert "<iframe" not in page and "Evidently's view is left out" in page
    assert "script-src 'none';" in page
    assert "is left out of the report" in caplog.text


def test_the_challenger_section_shows_its_figures_as_text():
    hostile = "<script>alert(1)</script>"
    shadow = {"challenger_version": hostile, "production_version": "3", "n_shadowed": 4, "agreement": 0.5,
              "agreement_low": 0.15, "agreement_high": 0.85, "first": hostile, "last": "2026-03-02",
              "flips": {"negative": {"negative": 1, "neutral": 0, "positive": 1},
                        "neutral": {"negative": 0, "neutral": 1, "positive": 0},
                        "positive": {"negative": 0, "neutral": 1, "positive": 0}},
              "live": {"n_feedback": 2, "production": {"macro_f1": 0.5, "accuracy": 0.5, "low": 0.0, "high": 1.0},
                       "challenger": {"macro_f1": 1.0, "accuracy": 1.0, "low": 1.0, "high": 1.0},
                       "difference": {"macro_f1": 0.5, "low": 0.0, "high": 1.0}},
              "latency_ms": {"production_p50": 3.2, "challenger_p50": 4.1}}
    page = report.render_html({**SUMMARY, "shadow": shadow}, {})
    assert hostile not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Challenger v&lt;script&gt;" in page and "<td>1.000</td>" in page and "<td>4.100</td>" in page
    assert "Challenger v" not in report.render_html({**SUMMARY, "shadow": None}, {})
