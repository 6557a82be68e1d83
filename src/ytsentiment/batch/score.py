"""`ytsentiment score`: score a file of comments with any model, in bounded memory or on Spark.

Input: Parquet (a file, or a directory such as ``collect`` writes, hive partitions included), CSV or JSON Lines with
one comment per row and a text column (default ``text``). Output: the same rows and columns plus

    sentiment      int8     the class: -1, 0 or 1 (``ytsentiment.contract.LABELS``)
    label          string   its name: negative, neutral, positive
    confidence     float64  the probability of that class
    model_name     string   the registered model (or ``model_info.json`` of a model directory)
    model_version  string

Engines (same classes for the same rows, checked by tests/batch/test_score.py):

- ``pandas``: pyarrow reads the input in record batches (``--batch-rows``), each batch is scored and appended to one
  Parquet file, so memory stays flat whatever the input size.
- ``spark``: ``mlflow.pyfunc.spark_udf(env_manager="local")`` over a Spark DataFrame; output is a Parquet directory.
  The master comes from ``--master``, else ``SPARK_MASTER``, else spark-submit's, else ``local[*]``: the same code runs
  on a laptop and on a cluster. The registry's pyfunc flavour calls ``predict`` (classes only), so the UDF scores a
  thin pyfunc (``ytsentiment.batch.spark_model``) that wraps the SAME model files and returns class + confidence
  from ``predict_proba``. Executors import ``ytsentiment`` (the Pipeline's classes live there): pip-installed on
  them, or shipped with ``--ship-code`` (the package as a zip through ``SparkContext.addPyFile``, like --py-files).

The model URI is anything MLflow loads: ``models:/NAME@ALIAS`` (resolved to its version first, so the alias moving
mid-job cannot mix two models), ``models:/NAME/VERSION``, ``runs:/...`` or a local model directory.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ytsentiment import YtSentimentError
from ytsentiment.config import DEFAULT_MODEL_URI, ProjectSettings
from ytsentiment.environ import EnvSettings

log = logging.getLogger(__name__)

DEFAULT_BATCH_ROWS = 20_000
DEFAULT_ROWS_PER_PARTITION = 20_000
OUTPUT_COLUMNS = ("sentiment", "label", "confidence", "model_name", "model_version")
PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv",)
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")


# ---- the model ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ResolvedModel:
    """A model pinned to local files: ``path`` is an MLflow model directory, ``info`` its model-info record."""

    uri: str
    path: Path
    info: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.info.get("name") or self.uri)

    @property
    def version(self) -> str:
        return str(self.info.get("version") or "")


def resolve_model(uri: str) -> ResolvedModel:
    """Pin ``uri`` to a local model directory and describe it (an alias is resolved to its version first)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from ytsentiment.artifact import read_info
    from ytsentiment.contract import model_info, registry_model_info

    path = Path(uri).expanduser()
    if path.is_dir():
        if not (path / "MLmodel").is_file():
            raise YtSentimentError(f"{uri} is a directory without an MLmodel file: pass an MLflow model directory "
                                   "(e.g. from `ytsentiment export`) or a models:/ URI")
        raw = read_info(path)
        return ResolvedModel(uri, path, model_info(uri=uri, name=raw.get("name"), version=raw.get("version"),
                                                   alias=raw.get("alias"), run_id=raw.get("run_id")))
    from ytsentiment import registry
    from ytsentiment.tracking import use_tracking

    use_tracking()
    try:
        if resolved := registry.resolve(uri):
            version, alias = resolved
            info = registry_model_info(registry.client(), version, uri, alias=alias)
            pinned = f"models:/{version.name}/{version.version}"
        else:
            info, pinned = model_info(uri=uri), uri
        local = mlflow.artifacts.download_artifacts(artifact_uri=pinned)
    except MlflowException as exc:
        raise YtSentimentError(f"cannot resolve model {uri}: {exc.message}. Check MLFLOW_TRACKING_URI, the name and "
                               "alias (`make promote` sets @production), or pass a model directory") from exc
    return ResolvedModel(uri, Path(local), info)


def load_pipeline(model: ResolvedModel):
    """The sklearn Pipeline behind a resolved model (what ``predict_frame`` scores with)."""
    import mlflow.sklearn

    pipeline = mlflow.sklearn.load_model(str(model.path))
    if not callable(getattr(pipeline, "predict_proba", None)):
        raise YtSentimentError(f"{model.uri} has no predict_proba: `score` needs a classifier with probabilities")
    return pipeline


def predict_frame(pipeline, texts) -> tuple[Any, Any]:
    """Classes (-1/0/1, int8) and their probabilities for a sequence of texts (nulls score as empty text)."""
    import numpy as np
    import pandas as pd

    from ytsentiment.contract import TEXT_COLUMN

    frame = pd.DataFrame({TEXT_COLUMN: ["" if not isinstance(t, str) else t for t in texts]})
    if frame.empty:
        return np.empty(0, dtype=np.int8), np.empty(0, dtype=np.float64)
    proba = np.asarray(pipeline.predict_proba(frame), dtype=np.float64)
    best = proba.argmax(axis=1)
    classes = np.asarray(pipeline.classes_).astype(np.int8)
    return classes[best], proba[np.arange(len(best)), best]


# ---- reading --------------------------------------------------------------------------------------------------

def input_format(path: Path) -> str:
    """parquet, csv or json, from the file's suffix (a directory: the suffix of the files inside it)."""
    probe = path
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file()
                       and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts))
        if not files:
            raise YtSentimentError(f"{path} holds no input files: run `ytsentiment collect` first or pass a file")
        probe = files[0]
    suffix = probe.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in JSON_SUFFIXES:
        return "json"
    raise YtSentimentError(f"{probe}: unknown input format {suffix!r}; expected Parquet (.parquet), CSV (.csv) or "
                           "JSON Lines (.jsonl)")


def open_dataset(path: str | Path, text_column: str):
    """A pyarrow dataset over the input (nothing is read yet); checks that the text column exists."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.dataset as ds

    path = Path(path)
    if not path.exists():
        raise YtSentimentError(f"input not found: {path}")
    fmt = input_format(path)
    if fmt == "csv":
        # Comments contain newlines inside quotes; ids stay strings (a numeric-looking id must not become a float).
        fmt = ds.CsvFileFormat(parse_options=pcsv.ParseOptions(newlines_in_values=True),
                               convert_options=pcsv.ConvertOptions(column_types={text_column: pa.string()}))
    dataset = ds.dataset(str(path), format=fmt, partitioning=partitioning(path))
    if text_column not in dataset.schema.names:
        raise YtSentimentError(f"{path}: no column {text_column!r} (columns: {dataset.schema.names}); pass "
                               "--text-column")
    return dataset


def partitioning(path: Path):
    """Hive partitions of a directory (collect's ``video_id=<id>/``); ids stay strings, never inferred numbers."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    if not path.is_dir():
        return None
    keys = sorted({part.split("=", 1)[0] for p in path.rglob("*=*") if p.is_dir() for part in [p.name]})
    return ds.HivePartitioning.discover(schema=pa.schema([(k, pa.string()) for k in keys])) if keys else "hive"


def iter_batches(dataset, batch_rows: int) -> Iterator[Any]:
    """Record batches of at most ``batch_rows`` rows, read one at a time.

    Memory stays flat only with: no threaded read-ahead (the scanner would otherwise queue row groups faster than the
    model scores them), no Parquet pre-buffering, and the system allocator (pyarrow's default mimalloc pool keeps
    freed batches' pages, so the peak kept rising with the input: +45 MB from 20k to 200k rows, +3 MB with these).
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    options = ds.ParquetFragmentScanOptions(pre_buffer=False) if isinstance(dataset.format, ds.ParquetFileFormat) \
        else None
    for batch in dataset.to_batches(batch_size=batch_rows, batch_readahead=1, fragment_readahead=1,
                                    use_threads=False, fragment_scan_options=options,
                                    memory_pool=pa.system_memory_pool()):
        if batch.num_rows:
            yield batch


# ---- the pandas engine ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScoreResult:
    engine: str
    rows: int
    seconds: float
    out: Path
    model_name: str
    model_version: str

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def scored_batch(batch, pipeline, text_column: str, model: ResolvedModel):
    """One input record batch plus the output columns (an Arrow table)."""
    import pyarrow as pa

    from ytsentiment.contract import LABELS

    classes, confidence = predict_frame(pipeline, batch.column(text_column).to_pylist())
    table = pa.Table.from_batches([batch]).drop_columns([c for c in OUTPUT_COLUMNS if c in batch.schema.names])
    n = len(classes)
    labels = pa.array([LABELS[int(c)] for c in classes], pa.string())
    return (table.append_column("sentiment", pa.array(classes, pa.int8()))
            .append_column("label", labels)
            .append_column("confidence", pa.array(confidence, pa.float64()))
            .append_column("model_name", pa.array([model.name] * n, pa.string()))
            .append_column("model_version", pa.array([model.version] * n, pa.string())))


def steady_allocator() -> None:
    """On glibc, serve allocations over 64 KiB with mmap, returned to the OS when freed.

    glibc raises its mmap threshold after large frees and then keeps such blocks in the heap, which fragments over
    many batches: the peak RSS crept up by ~50 MB over 200k rows. A fixed threshold keeps it flat (measured: the
    same peak after 50k and after 600k rows). A no-op elsewhere.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and hasattr(libc, "mallopt"):
            libc.mallopt(-3, 64 * 1024)  # M_MMAP_THRESHOLD
    except OSError:
        log.debug("no libc mallopt: allocator left as it is")


def score_pandas(source: str | Path, out: str | Path, model: ResolvedModel, text_column: str = "text",
                 batch_rows: int = DEFAULT_BATCH_ROWS, pipeline=None) -> ScoreResult:
    """Stream ``source`` through the model batch by batch into one Parquet file at ``out`` (atomically)."""
    import pyarrow.parquet as pq

    from ytsentiment.io import atomic_write

    if batch_rows < 1:
        raise YtSentimentError(f"--batch-rows must be at least 1, got {batch_rows}")
    dataset = open_dataset(source, text_column)
    pipeline = pipeline if pipeline is not None else load_pipeline(model)
    steady_allocator()
    out = Path(out)
    if out.is_dir():
        shutil.rmtree(out)  # a previous Spark run's output directory
    started, rows = time.perf_counter(), 0
    with atomic_write(out) as tmp:
        writer = None
        try:
            for batch in iter_batches(dataset, batch_rows):
                table = scored_batch(batch, pipeline, text_column, model)
                if writer is None:
                    writer = pq.ParquetWriter(str(tmp), table.schema)
                writer.write_table(table.cast(writer.schema))
                rows += table.num_rows
                log.info("scored %d rows (%.0f comments/s)", rows, rows / (time.perf_counter() - started))
            if writer is None:  # empty input: still write a valid, empty file with the output columns
                table = scored_batch(_empty_batch(dataset.schema), pipeline, text_column, model)
                writer = pq.ParquetWriter(str(tmp), table.schema)
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
    return ScoreResult("pandas", rows, time.perf_counter() - started, out, model.name, model.version)


def _empty_batch(schema):
    import pyarrow as pa

    return pa.RecordBatch.from_pylist([], schema=schema)


# ---- the Spark engine -----------------------------------------------------------------------------------------

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
    import ytsentiment

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

    from ytsentiment.batch.spark_model import save_proba_model
    from ytsentiment.contract import LABELS, TEXT_COLUMN

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


# ---- CLI ------------------------------------------------------------------------------------------------------

def add_arguments(parser) -> None:
    parser.add_argument("source", help="comments: Parquet file or directory (from collect), CSV or JSON Lines")
    parser.add_argument("--out", required=True, help="output Parquet (a file for pandas, a directory for Spark)")
    parser.add_argument("--model-uri", help="models:/NAME@ALIAS, models:/NAME/VERSION, runs:/... or a model "
                                            f"directory (default: env MODEL_URI, else {DEFAULT_MODEL_URI})")
    parser.add_argument("--engine", choices=("pandas", "spark"), default="pandas")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--batch-rows", type=int, default=DEFAULT_BATCH_ROWS,
                        help="pandas engine: rows scored at a time (memory ~ batch size, not input size)")
    parser.add_argument("--master", default=None,
                        help="Spark master (env SPARK_MASTER; default: spark-submit's, else local[*])")
    parser.add_argument("--rows-per-partition", type=int, default=DEFAULT_ROWS_PER_PARTITION,
                        help="Spark: partitions = max(default parallelism, rows / this)")
    parser.add_argument("--ship-code", action="store_true",
                        help="Spark: send the ytsentiment package to the executors (when not installed there)")


def run(args) -> int:
    model = resolve_model(args.model_uri or ProjectSettings.from_env().model_uri or DEFAULT_MODEL_URI)
    if args.engine == "spark":
        master = args.master or SparkSettings.from_env().spark_master
        result = score_spark(args.source, args.out, model, args.text_column, master, args.rows_per_partition,
                             args.ship_code)
    else:
        result = score_pandas(args.source, args.out, model, args.text_column, args.batch_rows)
    print(f"scored {result.rows} comments with {result.model_name} v{result.model_version} ({result.engine}, "
          f"{result.seconds:.1f} s, {result.rate:.0f} comments/s) -> {result.out}")
    return 0
