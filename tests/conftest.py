"""Fixtures shared by every tier: the shared data folder, a small real trained model, an isolated MLflow store."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
# Sources of the small model: Reddit (machine labels) plus three human-labelled sets, a few thousand rows in all.
SMALL_SOURCES = {
    "reddit.csv": ("clean_comment", "category", 1500),
    "human/semeval2013_2016_subtaskA.csv": ("text", "label", 1500),
    "human/goemotions_reddit_sentiment3.csv": ("text", "label", 1000),
    "human/airline_tweets_crowdflower.csv": ("text", "label", 600),
}


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "reddit.csv").is_file():
        pytest.fail(f"the shared data folder is missing: expected {SHARED_DATA} (see README, 'Data')")
    return SHARED_DATA


@pytest.fixture(scope="session")
def small_corpus(shared_data) -> pd.DataFrame:
    """A seeded sample of real comments (text, label, source) for training small models fast."""
    frames = []
    for rel, (text_col, label_col, n) in SMALL_SOURCES.items():
        df = pd.read_csv(shared_data / rel).dropna(subset=[text_col])
        df = df.sample(n=n, random_state=0)
        frames.append(pd.DataFrame({"text": df[text_col], "label": df[label_col].astype(int), "source": rel}))
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
