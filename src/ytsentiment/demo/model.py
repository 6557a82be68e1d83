"""Which model the demo serves: the promoted one when there is one, else a SAMPLE model trained on the spot.

Order: ``--model-uri`` when given; else ``models:/NAME@production`` in the MLflow store (``MLFLOW_TRACKING_URI``, or
the embedded ``sqlite:///mlflow.db`` when that file exists: the demo never creates a store), pinned to its version
so the API and ``score`` serve the same one; else an exported ``model/`` directory; else a sample model: a few
thousand rows of a few catalogue sources (``ingest``), small knobs, the real Pipeline, saved like
``ytsentiment export`` saves one. The sample model is for looking at the system, not at the numbers.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

from ytsentiment import YtSentimentError, config, registry
from ytsentiment.artifact import save_model
from ytsentiment.config import load_params
from ytsentiment.model import build_pipeline
from ytsentiment.stages.ingest import ingest

log = logging.getLogger(__name__)

# Sources of the sample model (the first ones present in params.ingest.selected are used): YouTube comments, tweets
# and Reddit, human labels first. `ROWS_PER_SOURCE` rows of each, seeded.
SAMPLE_SOURCES = ("youtube_thelwall", "airline_tweets", "semeval2013_2016", "reddit")
ROWS_PER_SOURCE = 1000
SAMPLE_NAME = "ytsentiment-sample"
EXPORTED_DIR = Path("model")


@dataclass(frozen=True)
class DemoModel:
    uri: str  # what the API (MODEL_URI) and `ytsentiment score` load
    description: str
    sample: bool = False


# A tracking server that does not answer must not hold the demo for minutes of MLflow's retries.
QUICK_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}


def registry_store_exists(uri: str) -> bool:
    """False for the embedded SQLite store when its file does not exist (asking would create it)."""
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///")).is_file()
    return True


def promoted(name: str) -> DemoModel | None:
    """``name@production`` pinned to its version, else ``model/``; None when there is neither."""
    uri = config.tracking_uri()
    if registry_store_exists(uri):
        try:
            with mock.patch.dict(os.environ, QUICK_HTTP):
                version = registry.alias_version(name, registry.PRODUCTION)
        except Exception as exc:  # noqa: BLE001 - an unreachable registry only means "look elsewhere"; it is said
            log.warning("cannot ask the MLflow registry at %s for %s@production (%s)", uri, name, exc)
            version = None
        if version is not None:
            return DemoModel(f"models:/{name}/{version.version}",
                             f"{name} v{version.version}, @production in the MLflow registry ({uri})")
    if (EXPORTED_DIR / "MLmodel").is_file():
        return DemoModel(str(EXPORTED_DIR.resolve()), f"the exported model in {EXPORTED_DIR}/ (make export)")
    return None


def given(uri: str) -> DemoModel:
    """``--model-uri``: a model directory must hold an MLmodel file; a registry URI is checked by the API itself."""
    path = Path(uri).expanduser()
    if "://" not in uri and not uri.startswith("models:/"):
        if not (path / "MLmodel").is_file():
            raise YtSentimentError(f"--model-uri {uri}: not an MLflow model directory (no MLmodel file); pass a "
                                   "directory from `ytsentiment export` or a models:/NAME@ALIAS URI")
        return DemoModel(str(path.resolve()), f"the model directory {uri}")
    return DemoModel(uri, uri)


def train_sample(params_path: str | Path, out: Path, rows_per_source: int = ROWS_PER_SOURCE) -> DemoModel:
    """Ingest a few sources, sample ``rows_per_source`` rows of each, fit the Pipeline with small knobs, save it."""
    params = load_params(params_path)
    selected = {source.name: source for source in params.ingest.selected}
    sources = [selected[name] for name in SAMPLE_SOURCES if name in selected]
    if not sources:
        raise YtSentimentError(f"no promoted model, and none of the sample model's sources {list(SAMPLE_SOURCES)} "
                               f"is selected in {params_path} (ingest.include); pass --model-uri, or `make run` "
                               "to train and promote one")
    try:
        frame, _provenance = ingest(sources, params.seed, params.ingest.mirror, params.ingest.url)
    except (YtSentimentError, OSError) as exc:
        raise YtSentimentError(f"no promoted model, and the sample model's training data cannot be read: {exc}\n"
                               "Fix: provide the data mirror (ingest.mirror in params.yaml) or network access to "
                               "the upstream files, or serve a model you have: --model-uri DIR|models:/NAME@ALIAS "
                               "(`make run` trains and promotes one, `make export` writes model/)") from exc
    sample = (frame.groupby("source", group_keys=False)[["text", "label", "source"]]
              .apply(lambda g: g.sample(n=min(len(g), rows_per_source), random_state=params.seed))
              .reset_index(drop=True))
    featurize = dataclasses.replace(params.featurize, max_features=5000, char_features=2 ** 15)
    train = dataclasses.replace(params.train, n_estimators=150, early_stopping_rounds=20, num_leaves=31)
    pipeline = build_pipeline(featurize, train, params.seed)
    pipeline.fit(sample[["text"]], sample["label"])
    names = ", ".join(s.name for s in sources)
    if out.is_dir():
        shutil.rmtree(out)  # the previous run's sample model (MLflow refuses to save over a directory)
    path = save_model(pipeline, out, {
        "name": SAMPLE_NAME, "version": "1", "alias": None, "run_id": None, "metrics": {},
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"), "git_commit": None,
    })
    return DemoModel(str(path.resolve()), f"a SAMPLE model trained just now on {len(sample):,} rows of {names} "
                                          "(small knobs; not the promoted model, for the demo only)", sample=True)
