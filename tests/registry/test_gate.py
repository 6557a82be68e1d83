"""The gate's branches on fake models in a temporary MLflow registry, with hand-computed macro-F1 figures.

The fakes answer from a lookup table (or break their contract on purpose), so every figure the gate reports can be
worked out by hand below instead of by the scorer the gate itself uses. Each test starts from an empty store
(``mlflow_store``), and mlflow's global URIs are restored afterwards.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import yaml

from ytsentiment.config import GateParams

from .conftest import REPO

NAME = "gate-fakes"

# Ten held-out rows, one source. By hand, for CANDIDATE's predictions:
#   negative: predicted at rows 0,1,2,5 -> TP 3 FP 1 FN 1 (row 3): P 3/4, R 3/4, F1 3/4
#   neutral:  predicted at rows 3,4,8   -> TP 1 FP 2 FN 1 (row 5): P 1/3, R 1/2, F1 2/5
#   positive: predicted at rows 6,7,9   -> TP 3 FP 0 FN 1 (row 8): P 1,   R 3/4, F1 6/7
#   macro-F1 = (3/4 + 2/5 + 6/7) / 3 = 0.669047...; accuracy 7/10
# PRODUCTION differs at row 3 only (negative, right):
#   negative: TP 4 FP 1 FN 0: P 4/5, R 1, F1 8/9; neutral: TP 1 FP 1 FN 1: F1 1/2; positive as above, 6/7
#   macro-F1 = (8/9 + 1/2 + 6/7) / 3 = 0.748677...; production - candidate = 0.079629...
TRUTH = [-1, -1, -1, -1, 0, 0, 1, 1, 1, 1]
CANDIDATE = [-1, -1, -1, 0, 0, -1, 1, 1, 0, 1]
PRODUCTION = [-1, -1, -1, -1, 0, -1, 1, 1, 0, 1]
CANDIDATE_F1 = (3 / 4 + 2 / 5 + 6 / 7) / 3
PRODUCTION_F1 = (8 / 9 + 1 / 2 + 6 / 7) / 3
TEXTS = [f"held-out comment number {i}" for i in range(len(TRUTH))]


@pytest.fixture
def test_frame() -> pd.DataFrame:
    return pd.DataFrame({"text": TEXTS, "label": TRUTH, "source": "s1", "group": "human"})


def gate_params(**overrides) -> GateParams:
    """No floors, compare on overall, behaviour and latency out of the way: each test sets what it checks."""
    base = dict(floors={}, compare=("overall",), tolerance=0.0, behaviour_min_pass_rate=0.0, latency_comments=10,
                latency_budget_ms=60_000)
    return GateParams(**{**base, **overrides})


class Lookup:
    """Answers a fixed label per known text (0 for any other), as one-hot probabilities over (-1, 0, 1)."""

    classes_ = np.array([-1, 0, 1])

    def __init__(self, predictions: list[int], texts: list[str] = TEXTS) -> None:
        self.table = dict(zip(texts, predictions, strict=True))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.array([self.table.get(t, 0) for t in frame["text"]])

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return (self.predict(frame)[:, None] == self.classes_[None, :]).astype(float)


class Hedged(Lookup):
    """The same labels, said with 0.7 on the predicted class and 0.15 on each other."""

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return 0.15 + 0.55 * super().predict_proba(frame)


class Raises(Lookup):
    def predict(self, frame):
        raise RuntimeError("no model inside")


class TwoColumns(Lookup):
    def predict_proba(self, frame):
        return np.full((len(frame), 2), 0.5)


class NotSummingToOne(Lookup):
    def predict_proba(self, frame):
        return np.full((len(frame), 3), 0.5)


def register(model, input_column: str = "text") -> str:
    """Log ``model`` in a run (signature over ``input_column``) and register it as @candidate; returns its version."""
    import mlflow
    from mlflow.models import infer_signature

    from ytsentiment import registry
    from ytsentiment.tracking import use_experiment

    use_experiment(f"{NAME}-runs")
    with mlflow.start_run() as run:
        signature = infer_signature(pd.DataFrame({input_column: ["a comment"]}), np.array([0]))
        # pip_requirements given: inferring them would load the model again in a subprocess (seconds per model).
        info = mlflow.sklearn.log_model(model, name="model", signature=signature, serialization_format="cloudpickle",
                                        pip_requirements=[])
    version = registry.register(NAME, {"model_uri": info.model_uri, "run_id": run.info.run_id}, {}, description="")
    return str(version.version)


def aliases() -> dict[str, str]:
    from ytsentiment.registry import alias_version

    found = {a: alias_version(NAME, a) for a in ("candidate", "production", "previous")}
    return {a: str(v.version) for a, v in found.items() if v is not None}


def decide(test_frame, **gate):
    from ytsentiment.gate import decide

    return decide(NAME, gate_params(**gate), test_frame)


def test_scores_match_the_hand_computed_figures():
    from ytsentiment.scoring import scores

    got = scores(TRUTH, CANDIDATE)
    assert got["macro_f1"] == pytest.approx(CANDIDATE_F1) and got["accuracy"] == pytest.approx(0.7)
    assert (got["negative.precision"], got["negative.recall"]) == (pytest.approx(3 / 4), pytest.approx(3 / 4))
    assert (got["neutral.precision"], got["neutral.recall"]) == (pytest.approx(1 / 3), pytest.approx(1 / 2))
    assert (got["positive.precision"], got["positive.recall"]) == (pytest.approx(1.0), pytest.approx(3 / 4))
    assert got["neutral.f1"] == pytest.approx(2 / 5) and got["positive.f1"] == pytest.approx(6 / 7)
    assert scores(TRUTH, PRODUCTION)["macro_f1"] == pytest.approx(PRODUCTION_F1)


def test_gate_reports_hand_computed_macro_f1(mlflow_store, test_frame):
    register(Lookup(CANDIDATE))
    report = decide(test_frame)
    assert report["decision"] == "promoted", report["reasons"]
    assert report["candidate"] == {"overall": round(CANDIDATE_F1, 4), "human": round(CANDIDATE_F1, 4)}
    assert report["candidate"]["overall"] == 0.669
    assert aliases() == {"candidate": "1", "production": "1"}


@pytest.mark.parametrize(("tolerance", "decision"), [(0.08, "promoted"), (0.079, "refused")])
def test_tolerance_above_zero(mlflow_store, test_frame, tolerance, decision):
    """Candidate 0.6690 vs production 0.7487: 0.0796 worse, inside a 0.08 tolerance, outside 0.079."""
    register(Lookup(PRODUCTION))
    assert decide(test_frame)["decision"] == "promoted"
    register(Lookup(CANDIDATE))
    report = decide(test_frame, tolerance=tolerance)
    assert report["decision"] == decision
    assert report["production"]["overall"] == round(PRODUCTION_F1, 4) == 0.7487
    assert report["candidate"]["overall"] == round(CANDIDATE_F1, 4)
    if decision == "promoted":
        assert report["reasons"] == [] and aliases() == {"candidate": "2", "production": "2", "previous": "1"}
    else:
        assert report["reasons"] == [f"compare: overall macro-F1 {CANDIDATE_F1:.4f} < production v1's "
                                     f"{PRODUCTION_F1:.4f} (tolerance {tolerance})"]
        assert aliases() == {"candidate": "2", "production": "1"}


@pytest.mark.parametrize(("tolerance", "decision"), [(0.21, "promoted"), (0.19, "refused"), (None, "promoted")])
def test_a_candidate_less_calibrated_than_production_is_refused(mlflow_store, test_frame, tolerance, decision):
    """By hand: one-hot CANDIDATE labels are 7/10 right at confidence 1.0, ECE 0.3; Hedged PRODUCTION labels 8/10 right
    at 0.7, ECE 0.1. Macro-F1 is not compared here, so calibration alone decides."""
    register(Hedged(PRODUCTION))
    assert decide(test_frame, compare=())["decision"] == "promoted"
    register(Lookup(CANDIDATE))
    report = decide(test_frame, compare=(), ece_scope="human", ece_tolerance=tolerance)
    assert report["candidate_ece"]["human"] == pytest.approx(0.3) and report["production_ece"]["human"] == 0.1
    assert report["decision"] == decision, report["reasons"]
    if decision == "refused":
        assert report["reasons"] == [f"calibration: human ECE 0.3000 > production v1's 0.1000 (tolerance {tolerance})"]


def test_production_that_cannot_be_rescored_leaves_floors_alone(mlflow_store, test_frame, caplog):
    from ytsentiment.registry import promote

    promote(NAME, register(Raises(PRODUCTION)))  # promoted by hand: it would never pass the gate
    register(Lookup(CANDIDATE))
    report = decide(test_frame, floors={"overall": 0.66})
    assert report["production_error"] == "RuntimeError: no model inside"
    assert "production" not in report
    assert "production v1 could not be re-scored" in caplog.text
    assert report["decision"] == "promoted" and report["reasons"] == []
    assert aliases() == {"candidate": "2", "production": "2", "previous": "1"}

    register(Lookup(CANDIDATE))
    assert decide(test_frame, floors={"overall": 0.67})["reasons"] == [
        f"floor: overall macro-F1 {CANDIDATE_F1:.4f} < 0.67"]


def test_a_floor_on_a_missing_scope_refuses(mlflow_store, test_frame):
    register(Lookup(CANDIDATE))
    report = decide(test_frame, floors={"overall": 0.5, "youtube": 0.5})
    assert report["decision"] == "refused"
    assert report["reasons"] == ["floor: the test rows have no scope 'youtube'"]
    assert aliases() == {"candidate": "1"}


@pytest.mark.parametrize(("model", "input_column", "problem"), [
    (Raises(CANDIDATE), "text", "predict failed on the input example: RuntimeError: no model inside"),
    (TwoColumns(CANDIDATE), "text", "predict_proba returned shape (3, 2), expected (3, 3)"),
    (NotSummingToOne(CANDIDATE), "text", "predict_proba rows are not probability distributions"),
    (Lookup(CANDIDATE), "comment", "signature inputs are ['comment'], expected ['text']"),
], ids=["predict-raises", "proba-shape", "proba-sum", "signature"])
def test_each_contract_failure_refuses(mlflow_store, test_frame, tmp_path, model, input_column, problem):
    register(model, input_column)
    report = decide(test_frame)
    assert report["decision"] == "refused"
    assert len(report["checks"]["contract"]) == 1 and problem in report["checks"]["contract"][0]
    assert report["reasons"] == [f"contract: {report['checks']['contract'][0]}"]
    assert "behaviour" not in report["checks"] and "candidate" not in report  # nothing further is run
    assert aliases() == {"candidate": "1"}

    from ytsentiment.registry import client

    tags = client().get_model_version(NAME, "1").tags
    assert tags["gate.decision"] == "refused" and problem in tags["gate.reasons"]


def test_run_gate_checks_its_inputs_and_writes_the_report(mlflow_store, test_frame):
    from ytsentiment import YtSentimentError
    from ytsentiment.gate import run_gate

    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["gate"] = {**dataclasses.asdict(gate_params()), "compare": ["overall"]}
    (mlflow_store / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    rows, report = mlflow_store / "test.parquet", mlflow_store / "reports" / "promotion.json"
    register(Lookup(CANDIDATE))

    with pytest.raises(YtSentimentError, match="test rows not found at .*test.parquet: run `make repro`"):
        run_gate(NAME, mlflow_store / "params.yaml", rows, report)
    test_frame.drop(columns=["source"]).to_parquet(rows)
    with pytest.raises(YtSentimentError, match=r"missing columns \['source'\]"):
        run_gate(NAME, mlflow_store / "params.yaml", rows, report)
    assert not report.exists() and aliases() == {"candidate": "1"}

    test_frame.to_parquet(rows)
    decision = run_gate(NAME, mlflow_store / "params.yaml", rows, report)
    assert json.loads(report.read_text(encoding="utf-8")) == decision
    assert decision["decision"] == "promoted" and decision["rows"] == len(TRUTH)


def test_the_feedback_scope_is_compared_once_the_test_rows_have_it(mlflow_store, test_frame):
    """compare_if_present: a present scope is compared like `compare`; an absent one is not (and said so)."""
    register(Lookup(PRODUCTION))
    assert decide(test_frame)["decision"] == "promoted"
    register(Lookup(CANDIDATE))
    with_feedback = test_frame.assign(group="feedback")  # the same rows, labelled by the people who gave feedback
    report = decide(with_feedback, compare=(), compare_if_present=("feedback",))
    assert report["checks"]["compared"] == ["feedback"]
    assert report["decision"] == "refused"
    assert report["reasons"] == [f"compare: feedback macro-F1 {CANDIDATE_F1:.4f} < production v1's "
                                 f"{PRODUCTION_F1:.4f} (tolerance 0.0)"]

    report = decide(test_frame, compare=(), compare_if_present=("feedback",))  # no feedback rows yet
    assert report["checks"]["compared"] == [] and report["decision"] == "promoted"


# Per-source watch. The ten rows above become source "tweets"; six more rows are source "youtube". By hand:
#   youtube, truth [-1,-1,0,0,1,1]: the candidate is right on all six (macro-F1 1); production says 0 throughout:
#     negative F1 0, neutral P 2/6 R 1 F1 1/2, positive F1 0 -> macro-F1 1/6
#   pooled (16 rows, all group "human", so overall = human), candidate: negative TP 5 FP 1 FN 1 F1 10/12,
#     neutral TP 3 FP 2 FN 1 F1 6/9, positive TP 5 FP 0 FN 1 F1 10/11 -> (5/6 + 2/3 + 10/11) / 3 = 0.803030...
#   production: negative TP 4 FP 1 FN 2 F1 8/11, neutral TP 3 FP 5 FN 1 F1 1/2, positive TP 3 FP 0 FN 3 F1 2/3
#     -> (8/11 + 1/2 + 2/3) / 3 = 0.631313...
# So the candidate gains 0.17 overall and on human while it loses 0.0796 on tweets (CANDIDATE_F1 vs PRODUCTION_F1).
YT_TEXTS = [f"youtube comment number {i}" for i in range(6)]
YT_TRUTH = [-1, -1, 0, 0, 1, 1]
YT_CANDIDATE, YT_PRODUCTION = YT_TRUTH, [0] * 6
YT_CANDIDATE_F1, YT_PRODUCTION_F1 = 1.0, 1 / 6
POOLED_CANDIDATE_F1 = (5 / 6 + 2 / 3 + 10 / 11) / 3
POOLED_PRODUCTION_F1 = (8 / 11 + 1 / 2 + 2 / 3) / 3
TWEETS_CHANGE = CANDIDATE_F1 - PRODUCTION_F1  # -0.0796...


@pytest.fixture
def two_sources() -> pd.DataFrame:
    return pd.DataFrame({"text": TEXTS + YT_TEXTS, "label": TRUTH + YT_TRUTH,
                         "source": ["tweets"] * len(TEXTS) + ["youtube"] * len(YT_TEXTS), "group": "human"})


def with_production(frame) -> None:
    """Register and promote the production fake, then register the candidate fake (v2, @candidate)."""
    register(Lookup(PRODUCTION + YT_PRODUCTION, TEXTS + YT_TEXTS))
    assert decide(frame)["decision"] == "promoted"
    register(Lookup(CANDIDATE + YT_CANDIDATE, TEXTS + YT_TEXTS))


def test_hand_computed_per_source_and_pooled_figures():
    from ytsentiment.scoring import scores

    assert scores(YT_TRUTH, YT_CANDIDATE)["macro_f1"] == pytest.approx(YT_CANDIDATE_F1)
    assert scores(YT_TRUTH, YT_PRODUCTION)["macro_f1"] == pytest.approx(YT_PRODUCTION_F1)
    assert scores(TRUTH + YT_TRUTH, CANDIDATE + YT_CANDIDATE)["macro_f1"] == pytest.approx(POOLED_CANDIDATE_F1)
    assert scores(TRUTH + YT_TRUTH, PRODUCTION + YT_PRODUCTION)["macro_f1"] == pytest.approx(POOLED_PRODUCTION_F1)


def test_a_pooled_gain_cannot_hide_a_source_loss(mlflow_store, two_sources):
    """Better overall and on human, 0.0796 worse on tweets: refused under a 0.01 source tolerance, naming tweets."""
    from ytsentiment.gate import format_decision
    from ytsentiment.registry import client

    with_production(two_sources)
    report = decide(two_sources, compare=("overall", "human"), source_tolerance=0.01)
    pooled = {"overall": round(POOLED_CANDIDATE_F1, 4), "human": round(POOLED_CANDIDATE_F1, 4)}
    assert report["candidate"] == pooled == {"overall": 0.803, "human": 0.803}
    assert report["production"] == {"overall": round(POOLED_PRODUCTION_F1, 4), "human": round(POOLED_PRODUCTION_F1, 4)}
    assert report["checks"]["compared"] == ["overall", "human"]  # both headline comparisons pass...
    assert report["decision"] == "refused"  # ...and the one source that lost more than its tolerance refuses
    assert report["reasons"] == [f"source: tweets macro-F1 {CANDIDATE_F1:.4f} < production v1's "
                                 f"{PRODUCTION_F1:.4f} (tolerance 0.01)"]
    assert report["checks"]["sources"] == {
        "tweets": {"candidate": 0.669, "production": 0.7487, "change": round(TWEETS_CHANGE, 4), "tolerance": 0.01,
                   "rows": 10, "result": "failed"},
        "youtube": {"candidate": 1.0, "production": round(YT_PRODUCTION_F1, 4), "change": round(5 / 6, 4),
                    "tolerance": 0.01, "rows": 6, "result": "ok"},
    }
    assert report["checks"]["sources_compared"] == ["tweets", "youtube"]
    assert report["checks"]["sources_failed"] == ["tweets"]
    assert aliases() == {"candidate": "2", "production": "1"}

    tags = client().get_model_version(NAME, "2").tags
    assert tags["gate.sources.failed"] == "tweets" and tags["gate.sources.compared"] == "tweets, youtube"
    assert tags["gate.source.tweets"] == ("candidate 0.669, production 0.7487, change -0.0796, tolerance 0.01, "
                                          "rows 10: failed")
    assert "source: tweets macro-F1 0.6690" in tags["gate.reasons"]
    text = format_decision(report)
    assert "  source tweets: candidate 0.6690 production 0.7487 change -0.0796 tolerance 0.01: failed" in text
    assert "  source youtube: candidate 1.0000 production 0.1667 change +0.8333 tolerance 0.01: ok" in text
    assert text.endswith(f"  - {report['reasons'][0]}")


@pytest.mark.parametrize(("tolerance", "overrides", "decision", "tweets"), [
    (0.08, {}, "promoted", "ok"),  # a 0.0796 loss inside a 0.08 tolerance
    (0.01, {"tweets": 0.08}, "promoted", "ok"),  # the override loosens tweets alone
    (0.08, {"tweets": 0.079}, "refused", "failed"),  # the override tightens tweets alone
    (0.01, {"tweets": None}, "promoted", "not watched"),  # the override leaves tweets unwatched
    (None, {}, "promoted", "not watched"),  # the watch is off
    (None, {"tweets": 0.01}, "refused", "failed"),  # off but for the one source listed
], ids=["within-tolerance", "override-loosens", "override-tightens", "override-unwatches", "off", "off-but-one"])
def test_source_tolerance_and_overrides(mlflow_store, two_sources, tolerance, overrides, decision, tweets):
    with_production(two_sources)
    report = decide(two_sources, compare=("overall", "human"), source_tolerance=tolerance,
                    source_tolerances=overrides)
    assert report["decision"] == decision, report["reasons"]
    entry = report["checks"]["sources"]["tweets"]
    assert entry["result"] == tweets and entry["tolerance"] == overrides.get("tweets", tolerance)
    assert report["checks"]["sources"]["youtube"]["tolerance"] == tolerance  # no override: the default
    assert report["checks"]["sources_failed"] == (["tweets"] if decision == "refused" else [])
    if decision == "refused":
        assert report["reasons"] == [f"source: tweets macro-F1 {CANDIDATE_F1:.4f} < production v1's "
                                     f"{PRODUCTION_F1:.4f} (tolerance {overrides['tweets']})"]
        assert aliases() == {"candidate": "2", "production": "1"}
    else:
        assert report["reasons"] == [] and aliases() == {"candidate": "2", "production": "2", "previous": "1"}


def test_a_source_missing_from_one_side_is_reported_not_a_crash(mlflow_store, two_sources, monkeypatch):
    """An override for a source the test rows lack (the feedback export before it exists), and a source production
    has no figure for, are each reported as not compared; the sources that can be compared still decide."""
    from ytsentiment import gate
    from ytsentiment.gate import format_decision

    with_production(two_sources)
    scorer, calls = gate.score_by_scope, []

    def production_without_youtube(frame, y_pred):
        calls.append(1)
        scores = scorer(frame, y_pred)
        return {k: v for k, v in scores.items() if k != "source.youtube"} if len(calls) == 2 else scores

    monkeypatch.setattr(gate, "score_by_scope", production_without_youtube)  # 1st call: candidate, 2nd: production
    report = decide(two_sources, source_tolerance=0.01, source_tolerances={"feedback": 0.02})
    assert len(calls) == 2
    assert report["checks"]["sources"]["feedback"] == {
        "candidate": None, "production": None, "tolerance": 0.02,
        "result": "not compared: the test rows have no such source"}
    assert report["checks"]["sources"]["youtube"] == {
        "candidate": 1.0, "production": None, "tolerance": 0.01, "result": "not compared: no production figure"}
    assert report["checks"]["sources"]["tweets"]["result"] == "failed"
    assert report["checks"]["sources_compared"] == ["tweets"] and report["checks"]["sources_failed"] == ["tweets"]
    assert report["decision"] == "refused"
    assert report["reasons"] == [f"source: tweets macro-F1 {CANDIDATE_F1:.4f} < production v1's "
                                 f"{PRODUCTION_F1:.4f} (tolerance 0.01)"]
    text = format_decision(report)
    assert "  source youtube: not compared: no production figure" in text
    assert "  source feedback: not compared: the test rows have no such source" in text
