"""What both engines of ``ytsentiment score`` read and return: the model pinned to local files, the comments.

``resolve_model(uri)`` pins a model URI to a local MLflow model directory (an alias is resolved to its version
first, so the alias moving mid-job cannot mix two models); ``open_dataset`` checks and opens the input (Parquet,
CSV or JSON Lines; a directory with hive partitions) without reading it; ``iter_batches`` reads it in bounded
record batches. ``ScoreResult`` is what an engine (``batch.score`` for pandas, ``batch.spark_model`` for Spark)
reports.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ytsentiment import YtSentimentError, registry
from ytsentiment.artifact import read_info
from ytsentiment.contract import model_info, registry_model_info
from ytsentiment.tracking import use_tracking

OUTPUT_COLUMNS = ("sentiment", "label", "confidence", "model_name", "model_version")
PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv",)
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")


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

    path = Path(uri).expanduser()
    if path.is_dir():
        if not (path / "MLmodel").is_file():
            raise YtSentimentError(f"{uri} is a directory without an MLmodel file: pass an MLflow model directory "
                                   "(e.g. from `ytsentiment export`) or a models:/ URI")
        raw = read_info(path)
        return ResolvedModel(uri, path, model_info(uri=uri, name=raw.get("name"), version=raw.get("version"),
                                                   alias=raw.get("alias"), run_id=raw.get("run_id")))
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
    freed batches' pages, so the peak grows with the input).
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
