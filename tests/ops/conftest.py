"""Paths and loaders for the monitoring tier (Prometheus config, rules, promtool tests, Grafana provisioning) and a
tiny real model for the live stack.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "ops"
PROMETHEUS_DIR = MONITORING / "prometheus"
RULES = PROMETHEUS_DIR / "rules" / "ytsentiment.rules.yml"
GRAFANA_DIR = MONITORING / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "ytsentiment.json"
COMPOSE = MONITORING / "docker-compose.yml"
JOB = "ytsentiment-api"


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="session")
def rules() -> dict:
    return load_yaml(RULES)


@pytest.fixture(scope="session")
def alerts(rules) -> list[dict]:
    return [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]


@pytest.fixture(scope="session")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


@pytest.fixture(scope="session")
def datasource_uid() -> str:
    (source,) = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    return source["uid"]


TINY_MODEL_INFO = {"name": "ytsentiment", "version": "1", "alias": "production", "run_id": "tiny-monitoring-model",
                   "metrics": {"test.macro_f1": 0.0}, "trained_at": "2026-01-01T00:00:00+00:00"}


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """The real Pipeline (normaliser, TF-IDF + VADER, LightGBM) fitted in a fraction of a second on 144 templated
    comments and saved as ``ytsentiment export`` does: what the monitoring tests serve. Its quality is irrelevant
    here; that the API loads and serves it like any promoted model is what matters."""
    import pandas as pd

    from ytsentiment.artifact import save_model
    from ytsentiment.config import load_params
    from ytsentiment.contract import CLASS_OF
    from ytsentiment.model import build_pipeline

    words = {
        "positive": ["love", "like", "enjoyed", "adore", "recommend", "appreciate", "admire", "praise"],
        "negative": ["hate", "dislike", "regret", "despise", "loathe", "resent", "detest", "mock"],
        "neutral": ["uploaded", "watched", "posted", "saw", "listened to", "found", "shared", "opened"],
    }
    things = ["this video", "the tutorial", "part two", "the channel", "your explanation", "the intro"]
    rows = [(f"I {verb} {thing}", CLASS_OF[name])
            for name, verbs in words.items() for verb, thing in itertools.product(verbs, things)]
    corpus = pd.DataFrame(rows, columns=["text", "label"])
    params = load_params(REPO / "params.yaml")
    featurize = dataclasses.replace(params.featurize, max_features=500, min_df=1, max_df=1.0)
    train = dataclasses.replace(params.train, n_estimators=20, early_stopping_rounds=5, num_leaves=7,
                                min_child_samples=3, n_jobs=1)
    pipeline = build_pipeline(featurize, train, params.seed)
    pipeline.fit(corpus[["text"]], corpus["label"])
    return save_model(pipeline, tmp_path_factory.mktemp("tiny-model") / "model", TINY_MODEL_INFO)
