"""Fixtures of the monitoring-job tier: realistic comment windows scored by a small real model, a migrated
SQLite prediction log in tmp_path, an isolated MLflow store.

"Same" traffic: disjoint seeded halves of the human-coded YouTube comments (Thelwall). "Shifted" traffic: airline
tweets (another topic and platform), non-English sentences (tests/unit/fixtures/languages.csv), and channel spam.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from support.database import engine, sqlite_template, sqlite_url  # noqa: F401 - fixtures

from monitoring_job.logdb import T0

REPO = Path(__file__).resolve().parents[2]
LANGUAGES = REPO / "tests" / "unit" / "fixtures" / "languages.csv"

SPAM_TEMPLATES = [
    "Check out my channel {url} for daily {topic} videos!! Subscribe pls",
    "FREE {topic} giveaway >>> {url} <<< only today, first 100 people",
    "sub4sub anyone? I sub back 100% {url}",
    "Earn $${n} a day from home, no experience needed, visit {url}",
    "{topic} hack that actually works {url} #{topic} #viral #fyp",
    "Hey guys I just uploaded a new {topic} video, please watch {url} and like!!!",
]
TOPICS = ["fortnite", "crypto", "makeup", "minecraft", "fitness", "music", "gaming", "forex"]


@pytest.fixture(scope="session")
def youtube(training_sources) -> pd.DataFrame:
    """Human-coded YouTube comments (text, label), shuffled with a fixed seed."""
    frame = training_sources["youtube_thelwall"]
    return frame.sample(frac=1, random_state=7).reset_index(drop=True)


@pytest.fixture(scope="session")
def airline(training_sources) -> pd.DataFrame:
    frame = training_sources["airline_tweets"]
    return frame.sample(n=600, random_state=7).reset_index(drop=True)


@pytest.fixture(scope="session")
def foreign() -> pd.Series:
    frame = pd.read_csv(LANGUAGES)
    return frame.loc[frame["lang"] != "en", "text"].sample(n=400, random_state=7).reset_index(drop=True)


@pytest.fixture(scope="session")
def spam() -> pd.Series:
    import random

    rng = random.Random(7)
    texts = [rng.choice(SPAM_TEMPLATES).format(url=f"https://youtu.be/{uuid.UUID(int=rng.getrandbits(128)).hex[:11]}",
                                               topic=rng.choice(TOPICS), n=rng.randint(50, 900))
             for _ in range(400)]
    return pd.Series(texts)


@pytest.fixture(scope="session")
def score(trained_pipeline):
    """texts -> a predictions-shaped frame (text, descriptors, sentiment, confidence) from the small real model."""
    from ytsentiment.monitoring.job import score_reference

    def _score(texts, start: datetime = T0, step_s: float = 30.0) -> pd.DataFrame:
        frame = score_reference(list(texts), trained_pipeline)
        frame["created_at"] = [start + timedelta(seconds=step_s * i) for i in range(len(frame))]
        return frame

    return _score


@pytest.fixture
def db_url(request) -> str:
    """The monitor's tests need one database: a migrated SQLite file (tests/support/database.py)."""
    return request.getfixturevalue("sqlite_url")


@pytest.fixture
def isolated_mlflow(tmp_path, monkeypatch):
    """An embedded MLflow store in tmp_path; the process-wide tracking URIs are put back afterwards."""
    import mlflow.tracking._model_registry.utils as registry_utils
    import mlflow.tracking._tracking_service.utils as tracking_utils

    saved = tracking_utils._tracking_uri, registry_utils._registry_uri
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_ARTIFACT_ROOT", (tmp_path / "mlartifacts").as_uri())
    yield f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracking_utils._tracking_uri, registry_utils._registry_uri = saved
