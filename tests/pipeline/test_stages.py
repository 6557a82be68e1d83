"""Pipeline smoke: every stage's real main() on a small real sample in a temp dir, and what each writes."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import yaml

from ytsentiment.stages.clean import clean, split
from ytsentiment.stages.train import fit

from .conftest import SAMPLE, stage_argv

pytestmark = pytest.mark.slow


def test_every_stage_exits_zero(pipeline_run):
    assert pipeline_run["codes"] == dict.fromkeys(("ingest", "clean", "featurize", "train", "evaluate"), 0)
    for name, path in pipeline_run["paths"].items():
        assert path.exists(), name


def test_ingest_output(pipeline_run):
    combined = pd.read_csv(pipeline_run["paths"]["combined"], keep_default_na=False)
    assert list(combined.columns) == ["text", "label", "source", "group", "weight"]
    assert combined.groupby("source").size().to_dict() == SAMPLE
    assert set(combined["label"]) == {-1, 0, 1}
    assert set(combined.loc[combined["source"] == "youtube_thelwall", "label"]) == {-1, 1}
    provenance = json.loads(pipeline_run["paths"]["provenance"].read_text())
    assert [p["name"] for p in provenance] == list(SAMPLE)
    assert all(len(p["sha256"]) == 64 and sum(p["labels"].values()) == p["rows"] for p in provenance)


def test_clean_split_is_disjoint_and_stratified(pipeline_run):
    train = pd.read_parquet(pipeline_run["paths"]["train"])
    test = pd.read_parquet(pipeline_run["paths"]["test"])
    for frame in (train, test):
        assert list(frame.columns) == ["text", "label", "source", "group", "weight", "clean_text"]
        assert (frame["clean_text"].str.len() > 0).all()
    assert not set(train["clean_text"]) & set(test["clean_text"]), "a normalised text sits in train and test"
    assert not set(train["text"]) & set(test["text"])
    strata = lambda f: set(zip(f["source"], f["label"], strict=True))  # noqa: E731
    assert strata(test) == strata(train)  # every (source, label) in test: all strata here are large
    share = len(test) / (len(train) + len(test))
    assert 0.18 < share < 0.22


def test_features_and_classifier(pipeline_run):
    paths = pipeline_run["paths"]
    X_train, X_test = sp.load_npz(paths["train_npz"]), sp.load_npz(paths["test_npz"])
    n_train, n_test = len(pd.read_parquet(paths["train"])), len(pd.read_parquet(paths["test"]))
    assert X_train.shape[0] == n_train and X_test.shape[0] == n_test
    params = yaml.safe_load(pipeline_run["params"].read_text())
    leading = 4 + 5 * params["featurize"]["shape"]  # 4 VADER columns, then the 5 comment-shape ones when on
    # leading + max_features word TF-IDF columns + 4096 hashed character n-gram columns
    assert leading + 4096 < X_train.shape[1] == X_test.shape[1] <= leading + 3000 + 4096
    facts = json.loads(paths["facts"].read_text())
    # no timings (DVC metrics); the calibration's temperature, and LightGBM's rounds with the stack
    boosted = {"best_iteration", "valid_multi_logloss"}
    learner = params["train"]["learner"]
    expected = {"linear_epochs", "rows", "features", "temperature"} | (boosted if learner == "stack" else set())
    assert set(facts) == expected
    assert facts["rows"] == n_train and facts["features"] == X_train.shape[1]
    assert 1 <= facts["linear_epochs"] <= 100 and facts["temperature"] > 0
    assert json.loads(paths["train_timings"].read_text())["fit_seconds"] >= 0


def test_metrics(pipeline_run):
    metrics = json.loads(pipeline_run["paths"]["metrics"].read_text())
    assert set(metrics) == {"model", "textblob", "vader", "behaviour"}
    assert set(metrics["behaviour"]) == {"minimum_functionality", "invariance", "directional", "youtube_idiom"}
    assert all(0 <= rate <= 1 for rate in metrics["behaviour"].values())
    expected_scopes = {"overall", "reddit", "human"} | {f"source.{name}" for name in SAMPLE}
    n_test = len(pd.read_parquet(pipeline_run["paths"]["test"]))
    assert all(0 <= metrics["model"][scope]["ece"] <= 1 for scope in expected_scopes)
    for system, by_scope in ((s, metrics[s]) for s in ("model", "textblob", "vader")):
        assert set(by_scope) == expected_scopes, system
        assert by_scope["overall"]["rows"] == n_test
        assert by_scope["reddit"]["rows"] + by_scope["human"]["rows"] == n_test
        for scores in by_scope.values():
            assert 0 <= scores["macro_f1"] <= 1 and 0 <= scores["accuracy"] <= 1
    # a model trained on ~1,000 rows already beats chance (1/3) clearly; real figures come from the full data
    assert metrics["model"]["overall"]["macro_f1"] > 0.45
    assert "predict_rows_per_s" not in metrics["model"]["overall"]  # timings live apart from the DVC metrics
    assert json.loads(pipeline_run["paths"]["evaluate_timings"].read_text())["predict_rows_per_s"] > 0
    assert "neutral.support" not in metrics["model"]["source.youtube_thelwall"]  # two-class source
    plots = sorted(p.name for p in pipeline_run["paths"]["plots"].iterdir())
    assert plots == sorted([f"confusion_{s.replace('.', '_')}.png" for s in expected_scopes]
                           + [f"reliability_{s}.png" for s in ("overall", "human", "reddit")])
    assert all((pipeline_run["paths"]["plots"] / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in plots)


def test_mlflow_run_and_model(pipeline_run, monkeypatch):
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient

    from .conftest import mlflow_globals_restored

    run_info = json.loads(pipeline_run["paths"]["run"].read_text())
    uri = pipeline_run["env"]["MLFLOW_TRACKING_URI"]
    assert run_info["tracking_uri"] == uri
    run = MlflowClient(tracking_uri=uri).get_run(run_info["run_id"])
    params = run.data.params
    raw = yaml.safe_load(pipeline_run["params"].read_text(encoding="utf-8"))
    assert float(params["train.learning_rate"]) == raw["train"]["learning_rate"]
    assert params["train.n_estimators"] == "60" and params["featurize.max_features"] == "3000"
    assert params["ingest.sources"] == ",".join(SAMPLE)
    assert "ingest.reddit.weight" in params and "base.seed" in params
    tags = run.data.tags
    assert tags["git_commit"]  # "unknown" here: the temp dir is not a git work tree
    for name in SAMPLE:
        assert len(tags[f"data.{name}.sha256"]) == 64
    assert {"data.test.md5", "data.features.md5", "data.classifier.md5"} <= set(tags)
    metrics = json.loads(pipeline_run["paths"]["metrics"].read_text())
    overall = metrics["model"]["overall"]["macro_f1"]
    assert run.data.metrics["model.overall.macro_f1"] == pytest.approx(overall)
    assert "train.linear_epochs" in run.data.metrics  # the training facts, as metrics
    timings = json.loads(pipeline_run["paths"]["evaluate_timings"].read_text())
    assert run.data.metrics["model.overall.predict_rows_per_s"] == pytest.approx(timings["predict_rows_per_s"])
    assert "train.fit_seconds" in run.data.metrics and "behaviour.youtube_idiom" in run.data.metrics
    assert params["train.learner"] == yaml.safe_load(pipeline_run["params"].read_text())["train"]["learner"]
    artifacts = {a.path for a in MlflowClient(tracking_uri=uri).list_artifacts(run.info.run_id, "plots")}
    assert "plots/confusion_overall.png" in artifacts

    with mlflow_globals_restored():
        for key, value in pipeline_run["env"].items():
            monkeypatch.setenv(key, value)
        mlflow.set_tracking_uri(uri)
        model = mlflow.sklearn.load_model(run_info["model_uri"])
    frame = pd.DataFrame({"text": ["I love this video, it is amazing!", "This is terrible, I hate it", ""]})
    predictions = model.predict(frame)
    assert set(np.unique(predictions)) <= {-1, 0, 1}
    assert predictions[0] == 1 and predictions[1] == -1
    proba = model.predict_proba(frame)
    assert proba.shape == (3, 3) and list(model.classes_) == [-1, 0, 1]
    assert np.allclose(proba.sum(axis=1), 1)


def test_a_failing_stage_exits_non_zero(pipeline_run, tmp_path):
    """As DVC runs it: a bad input makes the process fail, so DVC records nothing for the stage."""
    argv = stage_argv(tmp_path, pipeline_run["params"])["clean"]  # its --in does not exist under tmp_path
    proc = subprocess.run([sys.executable, "-m", "ytsentiment.stages.clean", *argv],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "combined.csv" in proc.stderr
    assert not (tmp_path / "data" / "interim").exists() or not any((tmp_path / "data" / "interim").iterdir())

    bad = tmp_path / "bad.yaml"
    bad.write_text("base: {seed: 1}\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "ytsentiment.stages.train", "--params", str(bad),
                           "--features", "x.npz", "--frame", "x.parquet", "--model", "m", "--facts", "f"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "params: missing section 'ingest'" in proc.stderr and "Traceback" not in proc.stderr


# ---- the stages' pure functions on edge cases the small sample does not reach -----------------------------

def _frame(strata: dict[tuple[str, int], int]) -> pd.DataFrame:
    rows = [{"text": f"{source} {label} row {i}", "label": label, "source": source, "group": "g",
             "weight": 1.0} for (source, label), n in strata.items() for i in range(n)]
    return pd.DataFrame(rows).assign(clean_text=lambda f: f["text"].str.lower())


def test_clean_drops_empty_and_duplicates_keeping_the_first():
    df = pd.DataFrame({"text": ["Great video!", "great   VIDEO", "", "   ", "<br>", "bad one"],
                       "label": [1, 0, 0, 0, 0, -1], "source": ["a", "b", "a", "a", "a", "a"]})
    out = clean(df)
    assert out["text"].tolist() == ["Great video!", "bad one"]
    assert out["label"].tolist() == [1, -1] and out["clean_text"].tolist() == ["great video", "bad one"]


def test_split_keeps_every_stratum_in_test_and_singletons_in_train():
    df = _frame({("a", 1): 50, ("a", -1): 5, ("b", 0): 5, ("b", 1): 30, ("c", 1): 1})
    train, test = split(df, 0.2, seed=3)
    assert len(train) + len(test) == len(df) and not set(train["text"]) & set(test["text"])
    assert set(zip(test["source"], test["label"], strict=True)) == {("a", 1), ("a", -1), ("b", 0), ("b", 1)}
    assert ("c", 1) in set(zip(train["source"], train["label"], strict=True))
    again = split(df, 0.2, seed=3)
    assert again[1]["text"].tolist() == test["text"].tolist()  # seeded


def test_split_of_a_tiny_corpus_holds_one_row_of_each_small_stratum():
    # 20 strata of 2 rows: each holds out ceil(0.2 * 2) = 1 row (sklearn's stratified split raised a ValueError)
    df = _frame({(f"s{i}", label): 2 for i in range(10) for label in (-1, 1)})
    train, test = split(df, 0.2, seed=0)
    assert (len(train), len(test)) == (20, 20)
    assert test.groupby(["source", "label"]).size().eq(1).all()


def test_train_fit_handles_a_singleton_stratum(small_params):
    # a stratum of one row (a source with a single neutral comment) made the stratified validation split raise
    rng = np.random.default_rng(0)
    frame = _frame({("a", -1): 40, ("a", 0): 40, ("a", 1): 40, ("b", 0): 1})
    X = sp.csr_matrix(rng.random((len(frame), 6)) + frame["label"].to_numpy()[:, None])
    featurize = dataclasses.replace(small_params.featurize, lexicon=False, shape=False, char_features=0)
    clf, facts, _ = fit(X, frame, featurize, small_params.train, seed=0)
    assert facts["rows"] == len(frame) and list(clf.classes_) == [-1, 0, 1]


def test_training_comments_get_links_on_a_seeded_share_and_nothing_else_changes():
    from ytsentiment.stages.featurize import with_links

    texts = [f"comment number {i}" for i in range(4000)] + [f"see https://youtu.be/{i} now" for i in range(400)]
    frame = pd.DataFrame({"text": texts, "label": 1})
    out = with_links(frame, 0.25, seed=42)
    assert out.index.equals(frame.index) and out["label"].equals(frame["label"])
    changed = out["text"] != frame["text"]
    assert 0.22 < changed[:4000].mean() < 0.28 and not changed[4000:].any()  # a comment with a link keeps its own
    for before, after in zip(frame["text"][changed], out["text"][changed], strict=True):
        assert after in (f"{before} https://example.com/watch", f"https://example.com/watch {before}")
    ends = out["text"][changed].str.startswith("comment").mean()
    assert 0.4 < ends < 0.6  # at the end or the start, about evenly
    assert out.equals(with_links(frame, 0.25, seed=42)) and not out.equals(with_links(frame, 0.25, seed=7))
    assert with_links(frame, 0.0, seed=42) is frame
