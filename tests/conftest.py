"""Fixtures shared by every tier: the training sources, a small real trained model, an isolated MLflow store."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
# Sources of the small model: Reddit (machine labels) plus three human-labelled sets, a few thousand rows in all.
SMALL_SOURCES = {"reddit": 1500, "semeval2013_2016": 1500, "goemotions_reddit": 1000, "airline_tweets": 600}


@pytest.fixture(scope="session")
def training_sources() -> dict[str, pd.DataFrame]:
    """Every required source of params.yaml as (text, label), derived from its public upstream files exactly as the
    ingest stage derives it: from the mirror ``../shared/upstream`` when present, else the download cache, else the
    raw URL (sha256-verified either way)."""
    from ytsentiment.config import load_params
    from ytsentiment.stages.ingest import ingest

    params = load_params(REPO / "params.yaml")
    required = [s for s in params.ingest.sources if not s.optional]
    combined, _ = ingest(required, params.seed, str(REPO / params.ingest.mirror), params.ingest.url)
    return {name: frame[["text", "label"]].reset_index(drop=True) for name, frame in combined.groupby("source")}


@pytest.fixture(scope="session")
def small_corpus(training_sources) -> pd.DataFrame:
    """A seeded sample of real comments (text, label, source) for training small models fast."""
    frames = [training_sources[name].sample(n=n, random_state=0).assign(source=name)
              for name, n in SMALL_SOURCES.items()]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="session")
def small_params():
    """The repo's params.yaml with small-model knobs (fast, still a real LightGBM on TF-IDF + VADER)."""
    import dataclasses

    from ytsentiment.config import load_params

    params = load_params(REPO / "params.yaml")
    return dataclasses.replace(
        params,
        featurize=dataclasses.replace(params.featurize, max_features=5000, min_df=2),
        train=dataclasses.replace(params.train, n_estimators=150, early_stopping_rounds=20, num_leaves=31),
    )


@pytest.fixture(scope="session")
def trained_pipeline(small_corpus, small_params):
    from ytsentiment.model import build_pipeline

    pipe = build_pipeline(small_params.featurize, small_params.train, small_params.seed)
    pipe.fit(small_corpus[["text"]], small_corpus["label"])
    return pipe


@pytest.fixture(scope="session")
def trained_model_dir(trained_pipeline, tmp_path_factory) -> Path:
    """A local MLflow model directory (as `ytsentiment export` writes it) holding the small real Pipeline."""
    from ytsentiment.artifact import save_model

    path = tmp_path_factory.mktemp("model") / "model"
    return save_model(trained_pipeline, path, {
        "name": "ytsentiment", "version": "1", "alias": "production", "run_id": "test-small-model",
        "metrics": {"test.macro_f1": 0.0}, "trained_at": "2026-01-01T00:00:00+00:00",
    })
