"""The pyfunc that ``ytsentiment score --engine spark`` hands to ``mlflow.pyfunc.spark_udf``.

A registered sklearn model's pyfunc flavour calls ``predict`` (classes only); batch scoring also wants the
confidence. ``ProbaModel`` wraps the SAME model directory (copied in as an artifact, not re-trained or re-saved)
and returns ``sentiment`` and ``confidence`` from ``predict_proba`` through ``score.predict_frame``, the function
the pandas engine uses, so both engines compute classes identically. Imported only by the Spark path (it imports
mlflow at module level, as a PythonModel subclass must).
"""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import pandas as pd
from mlflow.pyfunc import PythonModel  # not mlflow.pyfunc.PythonModel: mlflow's lazy attribute hides it from mypy

PIPELINE_ARTIFACT = "pipeline"


class ProbaModel(PythonModel):
    """DataFrame[text] -> DataFrame[sentiment, confidence], one LightGBM thread per Spark task."""

    def load_context(self, context) -> None:
        import mlflow.sklearn

        from ytsentiment.loading import limit_threads

        self.pipeline = mlflow.sklearn.load_model(context.artifacts[PIPELINE_ARTIFACT])
        limit_threads(self.pipeline, 1)  # Spark runs one task per core

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from ytsentiment.batch.score import predict_frame
        from ytsentiment.contract import TEXT_COLUMN

        classes, confidence = predict_frame(self.pipeline, model_input[TEXT_COLUMN].tolist())
        return pd.DataFrame({"sentiment": classes.astype("int32"), "confidence": confidence})


def save_proba_model(model_dir: Path, path: Path) -> Path:
    """Write the wrapper pyfunc at ``path`` around the MLflow model directory ``model_dir``."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    from ytsentiment.contract import TEXT_COLUMN

    signature = ModelSignature(inputs=Schema([ColSpec("string", TEXT_COLUMN)]),
                               outputs=Schema([ColSpec("integer", "sentiment"), ColSpec("double", "confidence")]))
    mlflow.pyfunc.save_model(str(path), python_model=ProbaModel(), artifacts={PIPELINE_ARTIFACT: str(model_dir)},
                             signature=signature, pip_requirements=[])
    return path
