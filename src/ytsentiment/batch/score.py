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
- ``spark`` (``ytsentiment.batch.spark_model``): ``mlflow.pyfunc.spark_udf(env_manager="local")`` over a Spark
  DataFrame; output is a Parquet directory. The same code runs on a laptop and on a cluster (``--master``).

The model URI is anything MLflow loads: ``models:/NAME@ALIAS`` (resolved to its version first, so the alias moving
mid-job cannot mix two models), ``models:/NAME/VERSION``, ``runs:/...`` or a local model directory.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from ytsentiment import YtSentimentError
from ytsentiment.batch.inputs import (
    OUTPUT_COLUMNS,
    ResolvedModel,
    ScoreResult,
    iter_batches,
    load_pipeline,
    open_dataset,
    resolve_model,
)
from ytsentiment.batch.spark_model import DEFAULT_ROWS_PER_PARTITION, SparkSettings, score_spark
from ytsentiment.config import DEFAULT_MODEL_URI, ProjectSettings
from ytsentiment.contract import LABELS
from ytsentiment.io import atomic_write
from ytsentiment.loading import predict_frame

log = logging.getLogger(__name__)

DEFAULT_BATCH_ROWS = 20_000


# ---- the pandas engine ----------------------------------------------------------------------------------------

def scored_batch(batch, pipeline, text_column: str, model: ResolvedModel):
    """One input record batch plus the output columns (an Arrow table)."""
    import pyarrow as pa

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
    many batches and lets the peak RSS creep up with the input; a fixed threshold keeps it flat. A no-op elsewhere.
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
