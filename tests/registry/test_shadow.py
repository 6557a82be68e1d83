"""The shadow challenger end to end: two real models in a real registry, the API under real gunicorn shadowing one
with the other on real comments through /analyze, feedback through /feedback, the monitor's comparison checked
against SQL on the database, and ``promote`` with ``gate.online`` promoting the challenger that is better online and
refusing the one that is worse. The extension's answers are the same with and without a challenger.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from support.servers import start_gunicorn

from ytsentiment.storage.db import make_engine

# Offline checks opened wide, so that only the online evidence decides between the two models.
OPEN_GATE = {"floors": {"overall": 0.0}, "compare": ["overall"], "tolerance": 1.0, "behaviour_min_pass_rate": 0.0}
ONLINE = {"min_shadowed": 150, "min_feedback": 120, "tolerance": 0.0}
COMMENTS, BATCH, LABELLED = 240, 40, 160
CLIENT = "e2e-shadow-client"
WORKERS = 2


def metric(url: str, name: str, **labels: str) -> float | None:
    """The value of one sample on /metrics (summed over matching label sets); None when absent."""
    total = None
    for family in text_string_to_metric_families(requests.get(f"{url}/metrics", timeout=10).text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total = (total or 0.0) + sample.value
    return total


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def sql(url: str, query: str, **params) -> list[tuple]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(query), params)]
    finally:
        engine.dispose()


def hand_macro_f1(rows: list[tuple[int, int]]) -> float:
    """Macro-F1 of (truth, predicted) pairs from precision and recall per class, over the classes either side
    uses (a class never predicted counts 0)."""
    classes = sorted({t for t, _ in rows} | {p for _, p in rows})
    f1s = []
    for c in classes:
        tp = sum(1 for t, p in rows if t == c and p == c)
        predicted, actual = sum(1 for _, p in rows if p == c), sum(1 for t, _ in rows if t == c)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(f1s) / len(f1s)


def serve(tmp: Path, round_: str, database: str):
    """The API under gunicorn (2 workers) serving models:/NAME@production with its @challenger on every request."""
    server = start_gunicorn(f"models:/{NAME}@production", tmp / f"gunicorn-{round_}.log", workers=WORKERS, extra_env={
        "DATABASE_URL": database, "PREDICTION_LOG_SPOOL_DIR": str(tmp / "spool"), "SHADOW_SAMPLE": "1",
        "MONITOR_CACHE_SECONDS": "0", "FEEDBACK_RATE_LIMIT": "100000 per minute",
        "FEEDBACK_ADDRESS_RATE_LIMIT": "100000 per minute", "PREDICT_RATE_LIMIT": "100000 per minute"})
    try:
        server.wait_ready(timeout=180)
        # every worker's challenger, not only the first: a request to a worker still loading one is not shadowed
        wait_for(lambda: server.log_text().count("shadow: challenger ") >= WORKERS, 120, "both workers' challengers")
        assert metric(server.url, "ytsentiment_shadow_model_info") == 1
    except BaseException:
        server.stop()
        raise
    return server


def traffic(url: str, comments: list[str]) -> list[dict]:
    """The comments through /analyze in batches, as the extension sends them; every answer's body."""
    bodies = []
    for start in range(0, len(comments), BATCH):
        response = requests.post(f"{url}/analyze", json={"comments": [{"text": t} for t in
                                                                       comments[start:start + BATCH]]}, timeout=60)
        assert response.status_code == 200, response.text
        bodies.append(response.json())
    return bodies


def settle(url: str, database: str, production: str, challenger: str, sent: int) -> int:
    """Wait until every sent comment is scored or skipped and in the database; the shadow rows' count."""
    wait_for(lambda: (metric(url, "ytsentiment_shadow_scored_total") or 0)
             + (metric(url, "ytsentiment_shadow_skipped_total") or 0) >= sent, 60, "the challenger's queue")
    scored = int(metric(url, "ytsentiment_shadow_scored_total") or 0)
    wait_for(lambda: sql(database, "SELECT (SELECT count(*) FROM predictions WHERE model_version = :p), (SELECT "
                         "count(*) FROM shadow_predictions WHERE model_version = :c)", p=production,
                         c=challenger)[0] == (sent, scored), 60, "the prediction log's writer")
    return scored


def give_feedback(url: str, bodies: list[dict], labels: dict[str, int]) -> None:
    for p in [p for body in bodies for p in body["predictions"]][:LABELLED]:
        response = requests.post(f"{url}/feedback", json={"prediction_id": p["prediction_id"],
                                                         "label": labels[p["comment"]], "client_id": CLIENT},
                                 timeout=30)
        assert response.status_code == 201, response.text


NAME = "ytsentiment-test"  # the registry fixture's model name


@pytest.fixture
def comments(registry) -> tuple[list[str], dict[str, int]]:
    """Held-out comments people labelled (distinct texts), and their labels."""
    rows = registry.test[registry.test["group"] == "human"].drop_duplicates("text")
    rows = rows.sample(n=2 * COMMENTS, random_state=3)
    return rows["text"].tolist(), dict(zip(rows["text"], rows["label"].astype(int), strict=True))


def test_shadow_end_to_end(registry, good_model, worse_model, comments, tmp_path, monkeypatch):
    from ytsentiment.api import create_app

    assert registry.name == NAME
    texts, labels = comments
    database = f"sqlite:///{tmp_path / 'log.db'}"
    monkeypatch.setenv("DATABASE_URL", database)
    registry.gate.update(OPEN_GATE)

    # v1 (the crippled model) serves; v2 (the good one) is registered and challenges it
    assert registry.register(worse_model) == 0 and registry.promote() == 0
    assert registry.register(good_model) == 0
    assert registry.cli("challenge", "7") == 2  # no such version
    assert registry.cli("challenge", "1") == 2  # production itself
    assert registry.cli("challenge", "2") == 0 and registry.alias("challenger") == "2"

    server = serve(tmp_path, "one", database)
    try:
        first = traffic(server.url, texts[:COMMENTS])
        scored = settle(server.url, database, "1", "2", COMMENTS)
        assert scored >= ONLINE["min_shadowed"]
        give_feedback(server.url, first, labels)
        out = tmp_path / "monitor"
        assert registry.cli("monitor", "--database-url", database, "--out", str(out), "--test-split", "none") == 0
        summary = json.loads((out / "summary.json").read_text())
        gauges = {who: metric(server.url, "ytsentiment_monitor_shadow_live_macro_f1", model=who)
                  for who in ("production", "challenger")}
        agreement_gauge = metric(server.url, "ytsentiment_monitor_shadow_agreement", challenger_version="2")
    finally:
        server.stop()

    # the extension's answers: the same bodies (but the fresh prediction ids) as an app with no challenger
    app = create_app({"model_uri": f"models:/{NAME}@production", "challenger_uri": "none", "prediction_log": False,
                      "load_in_background": False})
    alone = traffic_in_process(app, texts[:COMMENTS])
    assert [without_ids(b) for b in first] == [without_ids(b) for b in alone]

    # the monitor's figures = a hand computation from the database
    shadow = summary["shadow"]
    pairs = sql(database, "SELECT p.sentiment, s.sentiment FROM predictions p JOIN shadow_predictions s ON "
                          "s.prediction_id = p.id WHERE p.model_version = '1' AND s.model_version = '2'")
    assert shadow["n_shadowed"] == len(pairs) == scored
    assert shadow["agreement"] == round(sum(p == c for p, c in pairs) / len(pairs), 4) == agreement_gauge
    names = {-1: "negative", 0: "neutral", 1: "positive"}
    assert shadow["flips"] == {names[a]: {names[b]: sum(1 for p, c in pairs if (p, c) == (a, b)) for b in names}
                               for a in names}
    labelled = sql(database, "SELECT f.label, p.sentiment, s.sentiment FROM feedback f JOIN predictions p ON p.id = "
                             "f.prediction_id JOIN shadow_predictions s ON s.prediction_id = p.id WHERE "
                             "p.model_version = '1' AND s.model_version = '2'")
    live = shadow["live"]
    assert live["n_feedback"] == len(labelled) >= ONLINE["min_feedback"]
    for who, column in (("production", 1), ("challenger", 2)):
        expected = hand_macro_f1([(row[0], row[column]) for row in labelled])
        assert live[who]["macro_f1"] == pytest.approx(expected, abs=5e-5) == gauges[who]
        assert live[who]["low"] <= live[who]["macro_f1"] <= live[who]["high"]
    assert live["challenger"]["macro_f1"] > live["production"]["macro_f1"]  # the good model is better online
    latencies = sql(database, "SELECT p.latency_ms, s.latency_ms FROM predictions p JOIN shadow_predictions s ON "
                              "s.prediction_id = p.id WHERE s.model_version = '2'")
    assert all(a > 0 and b > 0 for a, b in latencies)
    import mlflow

    logged = mlflow.get_run(summary["mlflow_run_id"]).data
    assert logged.metrics["shadow.agreement"] == shadow["agreement"]
    assert logged.metrics["shadow.challenger_live_macro_f1"] == live["challenger"]["macro_f1"]
    assert logged.tags["challenger_version"] == "2"
    report = (out / "report.html").read_text()
    assert "Challenger v2 shadowing production v1" in report

    # the gate asks for online evidence: v2 is better online and is promoted; @challenger is cleared
    assert registry.promote(online=ONLINE) == 0
    assert registry.aliases() == {"candidate": "2", "production": "2", "previous": "1"}
    assert registry.alias("challenger") is None
    tags = registry.tags("2")
    assert tags["gate.online.result"] == "ok" and tags["gate.online.n_feedback"] == str(live["n_feedback"])
    assert tags["gate.online.candidate_macro_f1"] == str(live["challenger"]["macro_f1"])
    assert "## Online evidence (shadowing production)" in registry.version("2").description

    # a worse challenger (the crippled model again, v3) shadows v2: the gate refuses it on its online figures
    assert registry.register(worse_model) == 0 and registry.cli("challenge", "3") == 0
    server = serve(tmp_path, "two", database)
    try:
        second = traffic(server.url, texts[COMMENTS:])
        settle(server.url, database, "2", "3", COMMENTS)
        give_feedback(server.url, second, labels)
    finally:
        server.stop()
    assert registry.promote(online=ONLINE) == 2
    decision = json.loads(registry.report.read_text())
    assert decision["decision"] == "refused"
    assert [r for r in decision["reasons"] if r.startswith("online: live macro-F1")], decision["reasons"]
    assert [r for r in decision["reasons"] if not r.startswith("online:")] == []  # offline checks all passed
    assert registry.alias("production") == "2" and registry.alias("challenger") == "3"
    assert registry.tags("3")["gate.online.result"] == "failed"
    assert "Gate decision: **refused**" in registry.version("3").description
    assert registry.cli("challenge") == 2  # neither a version nor --clear
    assert registry.cli("challenge", "--clear") == 0 and registry.alias("challenger") is None
    assert registry.tags("3")["challenger.cleared_by"]


def without_ids(body: dict) -> dict:
    return {**body, "predictions": [{k: v for k, v in p.items() if k != "prediction_id"} for p in body["predictions"]]}


def traffic_in_process(app, comments: list[str]) -> list[dict]:
    client = app.test_client()
    bodies = []
    for start in range(0, len(comments), BATCH):
        response = client.post("/analyze", json={"comments": [{"text": t} for t in comments[start:start + BATCH]]})
        assert response.status_code == 200, response.get_data(as_text=True)
        bodies.append(response.get_json())
    return bodies


def test_online_params_are_validated(tmp_path):
    from ytsentiment import YtSentimentError
    from ytsentiment.config import load_params, parse_params

    raw = yaml.safe_load((Path(__file__).resolve().parents[2] / "params.yaml").read_text(encoding="utf-8"))
    assert load_params(Path(__file__).resolve().parents[2] / "params.yaml").gate.online is None
    raw["gate"]["online"] = dict(ONLINE)
    assert parse_params(raw).gate.online.min_feedback == ONLINE["min_feedback"]
    for bad in ({**ONLINE, "min_feedback": 0}, {**ONLINE, "tolerance": 2}, {"min_shadowed": 1}):
        raw["gate"]["online"] = bad
        with pytest.raises(YtSentimentError, match="gate.online"):
            parse_params(raw)


def test_check_online_names_each_missing_piece_of_evidence():
    from ytsentiment.config import OnlineGateParams
    from ytsentiment.gate import check_online

    online = OnlineGateParams(min_shadowed=100, min_feedback=50, tolerance=0.02)

    def evidence(n_shadowed: int, n_feedback: int, production: float, challenger: float) -> dict:
        live = {"n_feedback": n_feedback}
        if n_feedback:
            live.update(production={"macro_f1": production, "low": 0.0, "high": 1.0},
                        challenger={"macro_f1": challenger, "low": 0.0, "high": 1.0},
                        difference={"macro_f1": challenger - production, "low": -1.0, "high": 1.0})
        return {"production_version": "4", "challenger_version": "5", "n_shadowed": n_shadowed, "agreement": 0.8,
                "live": live}

    entry, reasons = check_online(online, evidence(100, 50, 0.70, 0.68))  # exactly the minimums, within tolerance
    assert reasons == [] and entry["result"] == "ok" and entry["difference"] == pytest.approx(-0.02)
    entry, reasons = check_online(online, evidence(99, 49, 0.70, 0.6799))
    assert entry["result"] == "failed" and [r.split(":")[1].split()[0] for r in reasons] == ["99", "49", "live"]
    _, reasons = check_online(online, evidence(500, 0, 0.0, 0.0))
    assert reasons == ["online: 0 feedback rows about the shadowed comments < 50"]
