"""The Spark engine of ``ytsentiment score``: ``mlflow.pyfunc.spark_udf`` over a Spark DataFrame, Parquet out.

The master comes from ``--master``, else ``SPARK_MASTER``, else spark-submit's, else ``local[*]``. A registered
sklearn model's pyfunc flavour calls ``predict`` (classes only); batch scoring also wants the confidence. So the UDF
scores a thin pyfunc (``save_proba_model``: this module is its ``loader_module``) that wraps the SAME model directory
(copied in as its data, not re-trained or re-saved) and returns ``sentiment`` and ``confidence`` through
``loading.predict_frame``, the function the pandas engine uses, so both engines compute classes identically.
Executors import ``ytsentiment`` (the Pipeline's classes live there): pip-installed on them, or shipped with
``--ship-code`` (``ship_package``).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

import ytsentiment
from ytsentiment.batch.inputs import OUTPUT_COLUMNS, ResolvedModel, ScoreResult, input_format, open_dataset
from ytsentiment.contract import LABELS, TEXT_COLUMN
from ytsentiment.environ import EnvSettings
from ytsentiment.loading import limit_threads, predict_frame

log = logging.getLogger(__name__)

DEFAULT_ROWS_PER_PARTITION = 20_000


class ProbaModel:
    """DataFrame[text] -> DataFrame[sentiment, confidence], one LightGBM thread per Spark task."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        limit_threads(self.pipeline, 1)  # Spark runs one task per core

    def predict(self, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        classes, confidence = predict_frame(self.pipeline, model_input[TEXT_COLUMN].tolist())
        return pd.DataFrame({"sentiment": classes.astype("int32"), "confidence": confidence})


def _load_pyfunc(data_path: str) -> ProbaModel:
    """MLflow's entry point for a ``loader_module`` model: ``data_path`` is the wrapped model directory."""
    import mlflow.sklearn

    return ProbaModel(mlflow.sklearn.load_model(data_path))


def save_proba_model(model_dir: Path, path: Path) -> Path:
    """Write the wrapper pyfunc at ``path`` around the MLflow model directory ``model_dir``."""
    import mlflow.pyfunc
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    signature = ModelSignature(inputs=Schema([ColSpec("string", TEXT_COLUMN)]),
                               outputs=Schema([ColSpec("integer", "sentiment"), ColSpec("double", "confidence")]))
    mlflow.pyfunc.save_model(str(path), loader_module=__name__, data_path=str(model_dir), signature=signature,
                             pip_requirements=[])
    return path


class SparkSettings(EnvSettings):
    spark_master: str | None = None  # SPARK_MASTER: e.g. spark://host:7077; unset = spark-submit's, else local[*]


def spark_session(master: str | None = None, app_name: str = "ytsentiment-score"):
    """A SparkSession on ``master`` if given (``--master``, else ``SparkSettings.spark_master``), else on what
    spark-submit set, else local[*].

    Python workers run this interpreter unless PYSPARK_PYTHON says otherwise (they must import ytsentiment).
    """
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name).config("spark.sql.execution.arrow.pyspark.enabled", "true")
    if master:
        builder = builder.master(master)
    return builder.getOrCreate()


def partitions_for(rows: int, parallelism: int, rows_per_partition: int) -> int:
    """Enough partitions to keep every core busy, and more when the input is large (bounded task size)."""
    return max(1, parallelism, math.ceil(rows / max(1, rows_per_partition)))


def ship_package(spark, workdir: Path) -> Path:
    """Zip the ytsentiment package and add it to every executor's sys.path (what ``--py-files`` does)."""
    package = Path(ytsentiment.__file__).resolve().parent
    archive = Path(shutil.make_archive(str(workdir / "ytsentiment"), "zip", root_dir=package.parent,
                                       base_dir=package.name))
    spark.sparkContext.addPyFile(str(archive))
    return archive


def score_spark(source: str | Path, out: str | Path, model: ResolvedModel, text_column: str = "text",
                master: str | None = None, rows_per_partition: int = DEFAULT_ROWS_PER_PARTITION,
                ship_code: bool = False, spark=None) -> ScoreResult:
    """Score ``source`` with ``mlflow.pyfunc.spark_udf`` and write a Parquet directory at ``out``."""
    import mlflow.pyfunc
    from pyspark.sql import functions as F

    source = Path(source)
    open_dataset(source, text_column)  # same checks and messages as the pandas engine
    fmt = input_format(source)
    own_session = spark is None
    spark = spark or spark_session(master)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ytsentiment-spark-") as work:
        if ship_code:
            ship_package(spark, Path(work))
        wrapper = save_proba_model(model.path, Path(work) / "proba-model")
        reader = spark.read
        if fmt == "csv":
            frame = reader.csv(str(source), header=True, multiLine=True, escape='"')
        elif fmt == "json":
            frame = reader.json(str(source))
        else:
            frame = reader.parquet(str(source))
        frame = frame.drop(*[c for c in OUTPUT_COLUMNS if c in frame.columns])
        rows = frame.count()
        n = partitions_for(rows, spark.sparkContext.defaultParallelism, rows_per_partition)
        log.info("spark: %d rows in %d partitions (master %s)", rows, n, spark.sparkContext.master)
        udf = mlflow.pyfunc.spark_udf(spark, str(wrapper), env_manager="local",
                                      result_type="sentiment int, confidence double")
        label = F.create_map(*[F.lit(x) for pair in LABELS.items() for x in pair])
        scored = (frame.repartition(n)
                  .withColumn("_score", udf(F.struct(F.coalesce(F.col(text_column).cast("string"),
                                                                F.lit("")).alias(TEXT_COLUMN))))
                  .withColumn("sentiment", F.col("_score.sentiment").cast("tinyint"))
                  .withColumn("label", label[F.col("_score.sentiment")])
                  .withColumn("confidence", F.col("_score.confidence"))
                  .withColumn("model_name", F.lit(model.name))
                  .withColumn("model_version", F.lit(model.version))
                  .drop("_score"))
        scored.write.mode("overwrite").parquet(_spark_path(out))
    seconds = time.perf_counter() - started
    if own_session:
        spark.stop()
    return ScoreResult("spark", rows, seconds, Path(out), model.name, model.version)


def _spark_path(out: str | Path) -> str:
    text = str(out)
    if "://" in text:  # s3a://, hdfs://, ... on a cluster
        return text
    path = Path(out)
    if path.is_file():
        path.unlink()  # a previous pandas run's single file
    return str(path.resolve())
