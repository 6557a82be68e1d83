"""``ytsentiment monitor`` end to end: a migrated SQLite prediction log, the CLI, MLflow, the report in Chromium."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml
from support.chromium import chromium_path

from monitoring_job.logdb import T0, insert_feedback, insert_predictions
from ytsentiment.cli import main

REPO = Path(__file__).resolve().parents[2]
SMALL = {"baseline_size": 400, "window_size": 400, "min_predictions": 200, "min_feedback": 30, "max_drift_rows": 1000,
         "test_sample": 600}


@pytest.fixture
def params_file(tmp_path) -> Path:
    raw = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    raw["monitor"].update(SMALL)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def test_split(training_sources, tmp_path_factory) -> Path:
    """A stand-in for data/interim/test.parquet: tweets and Reddit comments, as the training data are."""
    frames = [training_sources[name].sample(n=400, random_state=3)
              for name in ("semeval2013_2016", "goemotions_reddit")]
    path = tmp_path_factory.mktemp("split") / "test.parquet"
    pd.concat(frames, ignore_index=True)[["text", "label"]].to_parquet(path, index=False)
    return path


def _monitor(db_url, params_file, out, *extra) -> int:
    return main(["monitor", "--params", str(params_file), "--database-url", db_url, "--out", str(out),
                 "--model-version", "3", *extra])


def _rows(engine, table: str) -> list[dict]:
    from sqlalchemy import text

    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]


def test_same_traffic_pins_the_baseline_and_says_ok(youtube, score, engine, db_url, params_file, test_split,
                                                    trained_model_dir, isolated_mlflow, tmp_path, monkeypatch):
    import mlflow

    from ytsentiment.monitoring import cli

    loads: list[str] = []
    monkeypatch.setattr(cli, "load_model", lambda uri, load=cli.load_model: loads.append(uri) or load(uri))

    insert_predictions(engine, score(youtube["text"][:400]))
    window = score(youtube["text"][400:800], start=T0 + timedelta(days=1))
    ids = insert_predictions(engine, window)
    insert_feedback(engine, ids[:60], window["sentiment"][:60].tolist(), window["text"][:60].tolist())
    out = tmp_path / "out"

    code = _monitor(db_url, params_file, out, "--test-split", str(test_split), "--model-uri", str(trained_model_dir),
                    "--fail-on-retrain")

    summary = json.loads((out / "summary.json").read_text())
    assert code == 0 and summary["decision"] == "ok", summary["reasons"]
    assert loads == [str(trained_model_dir)]  # loaded once for the test split and the term movers
    assert summary["baseline"]["status"] == "pinned now"
    assert summary["live_quality"]["n_feedback"] == 60 and summary["live_quality"]["macro_f1"] == 1.0
    # The informative view: the training-like split is further from YouTube traffic than the baseline is:
    # against it a drift alarm would ring from day one.
    assert summary["test_split"]["text_drift_auc"] > 0.6 > summary["drift"]["text_drift_auc"]
    assert summary["test_split"]["signals"]["sentiment"]["score"] >= 0  # scored by the model given by --model-uri
    (baseline,) = _rows(engine, "monitor_baselines")
    assert baseline["n_predictions"] == 400 and baseline["model_version"] == "3"
    (run,) = _rows(engine, "monitor_runs")
    assert (run["decision"], run["n_predictions"], run["n_feedback"], run["live_macro_f1"]) == ("ok", 400, 60, 1.0)
    assert not run["drift_detected"] and run["drift_score"] == summary["drift"]["drift_score"]
    assert json.loads(run["reasons"]) == summary["reasons"]
    assert json.loads(run["summary"])["model_version"] == "3"

    mlflow.set_tracking_uri(isolated_mlflow)
    (logged,) = mlflow.search_runs(experiment_names=["ytsentiment-monitor"], output_format="list")
    assert logged.info.run_id == summary["mlflow_run_id"]
    assert logged.data.tags["model_version"] == "3" and logged.data.tags["decision"] == "ok"
    assert logged.data.metrics["live_macro_f1"] == 1.0
    assert logged.data.metrics["drift_score"] == pytest.approx(summary["drift"]["drift_score"])
    assert "test_split.text_drift_auc" in logged.data.metrics
    assert summary["term_movers"]["computed"]  # texts logged and a model given: the terms are compared
    moved = summary["term_movers"]["movers"]
    assert logged.data.metrics["term_movers.max_change"] == max(abs(m["change"]) for m in moved)


def test_shifted_traffic_and_disagreeing_feedback_decide_retrain(youtube, airline, score, engine, db_url,
                                                                 params_file, isolated_mlflow, tmp_path):
    insert_predictions(engine, score(youtube["text"][:400]))
    window = score(airline["text"][:500], start=T0 + timedelta(days=2))
    ids = insert_predictions(engine, window)
    flipped = [1 if s <= 0 else -1 for s in window["sentiment"][:80]]
    insert_feedback(engine, ids[:80], flipped, window["text"][:80].tolist())

    assert _monitor(db_url, params_file, tmp_path / "a", "--test-split", "none") == 0  # decision only reported
    outputs = tmp_path / "github_output"
    outputs.write_text("earlier=1\n")
    assert _monitor(db_url, params_file, tmp_path / "b", "--test-split", "none", "--fail-on-retrain",
                    "--github-output", str(outputs)) == 3
    assert outputs.read_text() == "earlier=1\ndecision=retrain\n"  # appended: what monitor.yml branches on

    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["decision"] == "retrain" and summary["baseline"]["status"] == "pinned earlier"
    assert summary["window"]["n_predictions"] == 400  # the last window_size of the 500 served after the baseline
    assert summary["live_quality"]["macro_f1"] == 0.0 and summary["live_quality"]["n_feedback"] == 80
    assert any(r.startswith("drift vs the baseline") for r in summary["reasons"])
    assert any(r.startswith("live macro-F1 0.000 on 80 feedback rows is below the floor") for r in summary["reasons"])
    assert [r["decision"] for r in _rows(engine, "monitor_runs")] == ["retrain", "retrain"]
    assert len(_rows(engine, "monitor_baselines")) == 1
    _screenshot(tmp_path / "b" / "report.html", tmp_path)


def test_too_little_data_says_so_and_never_alarms(airline, score, engine, db_url, params_file, tmp_path):
    insert_predictions(engine, score(airline["text"][:150]))

    code = _monitor(db_url, params_file, tmp_path / "out", "--no-mlflow", "--fail-on-retrain", "--test-split", "none",
                    "--github-output", str(tmp_path / "github_output"))
    assert (tmp_path / "github_output").read_text() == "decision=not_enough_data\n"

    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert code == 0 and summary["decision"] == "not_enough_data"
    assert summary["baseline"]["status"] == "not pinned yet (150 of 400 predictions)"
    assert "not enough data: the baseline of v3 is pinned once it has served 400 predictions" in summary["reasons"][0]
    (run,) = _rows(engine, "monitor_runs")
    assert run["decision"] == "not_enough_data" and run["drift_score"] is None and run["drift_detected"] is None
    assert _rows(engine, "monitor_baselines") == []


def test_unknown_model_is_a_clear_error(engine, db_url, params_file, tmp_path, caplog):
    code = main(["monitor", "--params", str(params_file), "--database-url", db_url, "--out", str(tmp_path),
                 "--no-mlflow", "--name", "nobody"])
    assert code == 2 and "no version of 'nobody' to monitor" in caplog.text


def _screenshot(report: Path, tmp_path: Path) -> None:
    """Open the report in headless Chromium: the decision shows, Evidently's view renders; keep a screenshot."""
    from playwright.sync_api import sync_playwright

    shot = tmp_path / "monitor-report.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(report.as_uri())
            assert "retrain" in page.locator("h1 .badge").inner_text()
            assert page.locator("li", has_text="live macro-F1 0.000").count() == 1
            evidently = page.frame_locator("iframe").first  # rendered by Evidently's own script in the srcdoc
            evidently.get_by_text("Drift in column 'text'").wait_for(timeout=60_000)
            page.screenshot(path=str(shot), full_page=False)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
    keep = REPO / "artifacts" / "monitoring_job"
    keep.mkdir(parents=True, exist_ok=True)
    (keep / "monitor-report.png").write_bytes(shot.read_bytes())


def test_time_window_reads_only_the_last_hours(youtube, score, engine, tmp_path):
    from ytsentiment.config import MonitorParams
    from ytsentiment.monitoring.job import run_monitor

    insert_predictions(engine, score(youtube["text"][:400]))                                  # baseline, day 0
    insert_predictions(engine, score(youtube["text"][400:700], start=T0 + timedelta(days=1)))  # older traffic
    now = T0 + timedelta(days=2)
    recent = score(youtube["text"][700:950], start=now - timedelta(minutes=50), step_s=10)     # 250 rows, 50..8 min ago
    insert_predictions(engine, recent)
    params = MonitorParams(**{**SMALL, "window_by": "time", "window_hours": 1, "test_split": None})

    summary = run_monitor(engine, params, "ytsentiment", tmp_path, model_version="3", now=now, track=False)

    assert summary["window"]["n_predictions"] == 250
    assert summary["window"]["start"] == "2026-03-02T23:10:00+00:00"   # now - 50 min
    assert summary["window"]["end"] == "2026-03-02T23:51:30+00:00"     # + 249 x 10 s
    assert summary["decision"] == "ok" and summary["drift"]["drift_detected"] is False


# Comment text is data, never markup (house style 22): payloads from the usual XSS corpus, each of which would run
# script (or plant an element) if a view put it into the page as markup.
XSS = [
    "</script><img src=x onerror=alert(1)>",
    "<!--<script>alert(2)</script>",
    '"><svg onload=alert(3)>',
    '<iframe srcdoc="<script>alert(4)</script>">',
    "javascript:alert(5)",
    "<script>alert(6)</script>",
    "</textarea></title></style><script>alert(7)</script>",
    "<details open ontoggle=alert(8)>",
    '<a href="javascript:alert(9)">click me</a>',
    "<body onload=alert(10)>",
    "]]><!--></script><svg/onload=alert(11)>",
    "'';!--\"<XSS>=&{()}",
]
# Every element a payload could plant, in any frame: handlers, its tags, script links, and scripts holding alert(
# other than Evidently's data (a JSON string there is text: it starts `var metric_…`).
INJECTED = """() => [...document.querySelectorAll('*')].filter(e =>
    [...e.attributes].some(a => a.name.startsWith('on') || /^\\s*javascript:/i.test(a.value))
    || e.matches('img[src=x], svg[onload], details, xss, iframe:not([sandbox])')
    || (e.tagName === 'SCRIPT' && e.text.includes('alert(') && !e.text.trim().startsWith('var metric_'))
).map(e => e.outerHTML.slice(0, 120))"""


def test_comment_markup_stays_text_in_the_report(youtube, score, engine, db_url, params_file, tmp_path,
                                                trained_model_dir):
    insert_predictions(engine, score(youtube["text"][:400]))
    texts = [f"{t} {XSS[i // 2 % len(XSS)]}" if i % 2 else t for i, t in enumerate(youtube["text"][400:800])]
    insert_predictions(engine, score(texts, start=T0 + timedelta(days=1)))
    out = tmp_path / "out"
    assert _monitor(db_url, params_file, out, "--test-split", "none", "--no-mlflow",
                    "--model-uri", str(trained_model_dir)) == 0
    report = out / "report.html"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["drift"]["signals"]["text"]["drift"]  # so Evidently's examples show
    terms = [m["term"] for m in summary["term_movers"]["movers"]]
    assert summary["term_movers"]["computed"] and terms  # the movers section is in the page under test too

    dialogs: list[str] = []
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(report.as_uri())
            page.wait_for_timeout(1_000)  # an onerror on a missing image fires within it
            assert dialogs == [], f"comment markup ran script in the report: alert({', '.join(dialogs)})"
            assert _planted(page) == {}  # markup the HTML parser made of a comment, before any view renders
            assert page.locator("iframe").evaluate_all("fs => fs.map(f => f.getAttribute('sandbox'))") == \
                ["allow-scripts"]
            csp = page.locator("meta[http-equiv=Content-Security-Policy]").get_attribute("content") or ""
            script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
            assert "'unsafe-inline'" not in script_src and "'sha256-" in script_src
            assert _movers_terms(page) == terms  # shown as the text they are
            evidently = page.frame_locator("iframe").first
            evidently.get_by_text("Drift in column 'text'").wait_for(timeout=60_000)  # the view still renders
            evidently.get_by_text("current: characteristic examples").click()
            shown = [p for p in XSS if evidently.get_by_text(p).count()]
            page.wait_for_timeout(500)
            assert len(page.frames) == 2  # the report and its one Evidently view: no frame planted by a comment
            planted = _planted(page)  # and none that a view made of a comment
        finally:
            browser.close()
    assert dialogs == []
    assert planted == {}
    assert len(shown) >= 3, shown  # Evidently's examples show the comments as written, markup and all


def _movers_terms(page) -> list[str]:
    table = page.locator("table", has=page.locator("th", has_text="window share"))
    return table.locator("tr td:first-child").all_inner_texts()


def test_term_markup_stays_text_in_the_movers_table(tmp_path):
    """Terms are read from comments: a term holding markup is shown as text, in Chromium, and runs nothing."""
    from ytsentiment.monitoring.report import render_html

    summary = {"decision": "ok", "model_name": "ytsentiment", "model_version": "3", "run_at": "2026-03-02",
               "reasons": [], "window": {"by": "count", "size_or_hours": 400, "start": "a", "end": "b",
                                         "n_predictions": 400},
               "live_quality": {"n_feedback": 0, "enough_data": False, "min_feedback": 30},
               "params": {"live_f1_floor": 0.5}, "drift": None, "test_split": None,
               "term_movers": {"computed": True, "n_baseline": 400, "n_window": 400, "why_terms": 3, "movers": [
                   {"term": payload, "class": "negative", "baseline_share": 0.0, "window_share": 0.5, "change": 0.5}
                   for payload in XSS]}}
    report = tmp_path / "report.html"
    report.write_text(render_html(summary, {}), encoding="utf-8")
    dialogs: list[str] = []
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(report.as_uri())
            page.wait_for_timeout(1_000)
            shown, planted = _movers_terms(page), _planted(page)
        finally:
            browser.close()
    assert dialogs == [] and planted == {}
    assert shown == XSS


def _planted(page) -> dict[str, list[str]]:
    """Elements a comment planted, by frame (the report and each Evidently view): empty when all is text."""
    found = {frame.url: frame.evaluate(INJECTED) for frame in page.frames}
    return {url: elements for url, elements in found.items() if elements}
