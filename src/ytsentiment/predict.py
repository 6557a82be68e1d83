"""`ytsentiment predict "comment" ["another" ...]`: a one-line try of a model, one line per comment.

Which model, first found: ``--model-uri``, else MODEL_URI, else an exported ``model/`` directory in the working
directory (``make export``), else ``models:/NAME@production`` in the MLflow store (MLFLOW_TRACKING_URI, default
the embedded ``sqlite:///mlflow.db``). It is loaded by ``ytsentiment.loading.load_model``, the API's loader, so
the same Pipeline and the same contract check apply. Output: ``label  confidence  text`` per comment, or with
``--json`` one JSON document (the model's info record and, per comment, the record ``/predict`` answers). No
model found: exit 2 with the commands that make one.
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ytsentiment import YtSentimentError, config
from ytsentiment.api.service import SentimentService
from ytsentiment.loading import load_model

EXPORTED_MODEL_DIR = "model"
NO_MODEL_FIX = "run `make run`, or `make demo`, or set MODEL_URI"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("comments", nargs="+", metavar="COMMENT", help="comment texts (quote each one)")
    parser.add_argument("--model-uri", help="models:/NAME@ALIAS, models:/NAME/VERSION or a model directory "
                                            "(default: MODEL_URI, else ./model, else models:/NAME@production)")
    parser.add_argument("--name", default=config.model_name(), help="registered model name (env MODEL_NAME)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of lines")


def run(args: argparse.Namespace) -> int:
    uri, origin = choose_model(args.model_uri, config.ProjectSettings.from_env(), Path.cwd(), args.name)
    model, info = load(uri, origin)
    rows = predict(model, args.comments)
    if args.json:
        print(json.dumps({"model": info, "predictions": rows}, ensure_ascii=False, indent=2))
    else:
        for row in rows:
            print(format_row(row))
    return 0


def choose_model(given: str | None, settings: config.ProjectSettings, cwd: Path, name: str) -> tuple[str, str]:
    """``(uri, where it came from)``: the option, MODEL_URI, an exported ``model/`` directory, the registry."""
    if given and given.strip():
        return given.strip(), "--model-uri"
    if settings.model_uri:
        return settings.model_uri, "MODEL_URI"
    exported = cwd / EXPORTED_MODEL_DIR
    if (exported / "MLmodel").is_file():
        return str(exported), f"the exported model in {exported}"
    return f"models:/{name}@production", "the registry"


def load(uri: str, origin: str) -> tuple[Any, dict[str, Any]]:
    """The model and its info record; ``YtSentimentError`` saying how to get a model when there is none."""
    from mlflow.exceptions import MlflowException

    registry = uri.startswith("models:/")
    tracking = config.tracking_uri()
    if registry and tracking.startswith("sqlite:///") and not Path(tracking.removeprefix("sqlite:///")).is_file():
        # Checked before MLflow runs: it would create an empty store here.
        raise YtSentimentError(f"no model to load: {uri} (from {origin}) needs the MLflow store {tracking}, which "
                               f"does not exist here; {NO_MODEL_FIX}")
    try:
        loaded = load_model(uri)
    except (MlflowException, OSError) as exc:
        if registry:
            raise YtSentimentError(f"no model to load: {uri} (from {origin}) is not in the MLflow store {tracking} "
                                   f"({_reason(exc)}); {NO_MODEL_FIX}") from exc
        raise YtSentimentError(f"cannot load {uri} (from {origin}): {_reason(exc)}; give an MLflow model directory "
                               "(`make export` writes model/) or a models:/ URI") from exc
    return loaded.model, loaded.info


def _reason(exc: Exception) -> str:
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__


def predict(model: Any, texts: Sequence[str]) -> list[dict[str, Any]]:
    """One record per text, exactly as the API's ``/predict`` answers it (``comment``, ``sentiment``, ``label``,
    ``confidence``, ``prediction_id``, ``language``, ``language_supported``): the API's service computes it."""
    return [dict(p) for p in SentimentService(model).predict(list(texts))]


def format_row(row: Mapping[str, Any]) -> str:
    """``label  confidence  text`` on one line: control characters in the text (newlines, escapes) are shown
    escaped, so a comment can neither break the line nor drive the terminal."""
    text = "".join(repr(ch)[1:-1] if unicodedata.category(ch) == "Cc" else ch for ch in row["comment"])
    return f"{row['label']:<8}  {row['confidence']:.2f}  {text}"
