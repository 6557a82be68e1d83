"""How the Pipeline becomes an MLflow model: signature, input example, pinned requirements, sidecar info.

Used by the evaluate stage (log to a run), by ``export`` (a local model directory for the Docker image) and by tests.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from ytsentiment.contract import INPUT_EXAMPLE

MODEL_INFO_FILE = "model_info.json"

# What the Pipeline needs at load time (the ytsentiment package itself is installed next to it in the image).
_RUNTIME_PACKAGES = ("scikit-learn", "lightgbm", "numpy", "scipy", "pandas", "emoji", "vaderSentiment")

# skops (MLflow's default sklearn format) refuses to load types it was not told to trust: name ours explicitly.
SKOPS_TRUSTED_TYPES = [
    "collections.OrderedDict",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "ytsentiment.model.CharNgrams",
    "ytsentiment.model.CommentShape",
    "ytsentiment.model.PackedTfidfVectorizer",
    "ytsentiment.model.SentimentClassifier",
    "ytsentiment.model.TextNormalizer",
    "ytsentiment.model.VaderFeatures",
]


def pip_requirements() -> list[str]:
    return [f"{name}=={version(name)}" for name in _RUNTIME_PACKAGES]


def signature(pipeline):
    from mlflow.models import infer_signature

    return infer_signature(INPUT_EXAMPLE, np.asarray(pipeline.predict(INPUT_EXAMPLE)))


def log_model(pipeline, name: str = "model", metadata: dict[str, Any] | None = None):
    """Log the Pipeline to the active MLflow run; returns mlflow's ModelInfo."""
    import mlflow.sklearn

    return mlflow.sklearn.log_model(
        pipeline, name=name, signature=signature(pipeline), input_example=INPUT_EXAMPLE,
        pip_requirements=pip_requirements(), metadata=metadata, skops_trusted_types=SKOPS_TRUSTED_TYPES,
    )


def save_model(pipeline, path: str | Path, info: dict[str, Any]) -> Path:
    """Write an MLflow model directory plus ``model_info.json`` (what /model reports when serving from a dir)."""
    import mlflow.sklearn

    path = Path(path)
    mlflow.sklearn.save_model(
        pipeline, str(path), signature=signature(pipeline), input_example=INPUT_EXAMPLE,
        pip_requirements=pip_requirements(), skops_trusted_types=SKOPS_TRUSTED_TYPES,
    )
    write_info(path, info)
    return path


def write_info(path: str | Path, info: dict[str, Any]) -> None:
    (Path(path) / MODEL_INFO_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_info(path: str | Path) -> dict[str, Any]:
    file = Path(path) / MODEL_INFO_FILE
    return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else {}
