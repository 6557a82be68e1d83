"""The API on a real small trained Pipeline: same answers as the Pipeline itself, sensible on clear comments,
model facts from the model directory and from the MLflow registry.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ytsentiment.api import create_app
from ytsentiment.api.model_store import load_model
from ytsentiment.api.service import SentimentService

RAW_COMMENTS = [
    "This video is AMAZING, thank you so much!!! 😍",
    "not good at all, I want my 10 minutes back",
    "Uploaded at 3pm, part 2 tomorrow",
    "&quot;worst&quot; tutorial ever <br> https://spam.example @someone",
    "",
    "soooo boring... 🙄",
]


def test_api_answers_exactly_what_the_pipeline_predicts(real_app, real_client):
    """No train/serve skew: the API adds nothing to the text before the Pipeline sees it."""
    model = real_app.extensions["ytsentiment"].service.model
    frame = pd.DataFrame({"text": RAW_COMMENTS})
    expected = model.predict(frame)
    proba = model.predict_proba(frame).max(axis=1)
    body = real_client.post("/predict", json={"comments": RAW_COMMENTS}).get_json()
    assert [p["comment"] for p in body] == RAW_COMMENTS
    assert [p["sentiment"] for p in body] == [int(x) for x in expected]
    assert np.allclose([p["confidence"] for p in body], proba, atol=1e-4)


def test_clear_comments_get_the_obvious_label(real_client):
    body = real_client.post("/predict", json={"comments": [
        "I love this video, it is amazing and so helpful, thank you!",
        "This is terrible, I hate it, worst video ever",
    ]}).get_json()
    assert [p["label"] for p in body] == ["positive", "negative"]


def test_model_facts_from_the_model_directory(real_client, trained_model_dir):
    info = real_client.get("/model").get_json()
    assert info["name"] == "ytsentiment" and info["version"] == "1" and info["alias"] == "production"
    assert info["trained_at"].startswith("2026-01-01")
    assert set(info) == {"name", "version", "alias", "trained_at", "metrics"}  # no uri, run_id, git_commit
    assert set(info["metrics"]) == {"overall_macro_f1", "human_macro_f1"}


def test_service_limits_prediction_threads(real_app):
    model = real_app.extensions["ytsentiment"].service.model
    assert {v for k, v in model.get_params(deep=True).items() if k.endswith("n_jobs")} == {1}


def test_service_with_real_model_summarises(real_app):
    service = SentimentService(real_app.extensions["ytsentiment"].service.model)
    predictions = service.predict(RAW_COMMENTS)
    summary = service.summarize(predictions)
    assert summary["total"] == len(RAW_COMMENTS) == sum(summary["counts"].values())
    assert 0 <= summary["average_sentiment"] <= 10


@pytest.fixture(scope="module")
def registry(trained_pipeline, tmp_path_factory, monkeypatch_module):
    """A throwaway MLflow store (sqlite) holding the small model as version 1 with alias `production`."""
    import mlflow

    from ytsentiment.artifact import log_model

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    previous, previous_registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    monkeypatch_module.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment("api-test", artifact_location=(root / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_metric("test.macro_f1", 0.61)
        logged = log_model(trained_pipeline)
    version = mlflow.register_model(logged.model_uri, "ytsentiment")
    mlflow.MlflowClient().set_registered_model_alias("ytsentiment", "production", version.version)
    yield {"uri": uri, "run_id": run.info.run_id, "version": str(version.version)}
    mlflow.set_tracking_uri(previous)
    mlflow.set_registry_uri(previous_registry)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.mark.slow
@pytest.mark.parametrize("model_uri", ["models:/ytsentiment@production", "models:/ytsentiment/1"])
def test_model_facts_from_the_registry(registry, model_uri):
    loaded = load_model(model_uri)
    info = loaded.info
    assert info["name"] == "ytsentiment" and info["version"] == registry["version"] == "1"
    assert info["alias"] == "production" and info["run_id"] == registry["run_id"]
    assert info["metrics"] == {"test.macro_f1": 0.61}
    assert info["trained_at"] and info["trained_at"].endswith("+00:00")
    assert list(loaded.model.classes_) == [-1, 0, 1]


@pytest.mark.slow
def test_app_serves_the_registry_alias(registry):
    app = create_app({"model_uri": "models:/ytsentiment@production", "load_in_background": False})
    client = app.test_client()
    assert client.get("/ready").status_code == 200
    assert client.get("/model").get_json()["version"] == "1"
    assert client.post("/predict", json={"comments": ["great"]}).status_code == 200
