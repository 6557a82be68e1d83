"""Load a model to serve by its URI and say what it is: the one loader of the API and ``ytsentiment predict``.

``load_model(uri)`` returns a :class:`LoadedModel`: the sklearn Pipeline exactly as training logged it (so the
same normaliser runs inside it), checked against the output contract of ``ytsentiment.contract``, plus the
facts ``GET /model`` reports (``contract.model_info``; ``trained_at`` is when the training run finished). ``uri``
is ``models:/NAME@ALIAS``, ``models:/NAME/VERSION``, a local MLflow model directory (``ytsentiment export``) or
any other MLflow model URI. A registry alias is resolved to a version first and that version is loaded, so the
model and its description cannot disagree if the alias moves meanwhile. ``predict_frame`` turns texts into
classes and confidences the way batch scoring (both engines) and the monitoring job's reference read a model.
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ytsentiment import YtSentimentError, registry
from ytsentiment.artifact import MODEL_INFO_FILE, read_info
from ytsentiment.contract import MODEL_INFO_KEYS, TEXT_COLUMN, model_info, output_problems, registry_model_info
from ytsentiment.tracking import use_tracking

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    model: Any
    info: dict[str, Any]


def load_model(uri: str) -> LoadedModel:
    """Load the Pipeline behind ``uri`` (registry URI or local MLflow model directory) and describe it."""
    # Imported here, not at module level: importing mlflow costs ~2 s, which must not happen at import time.
    import mlflow.sklearn

    started = time.perf_counter()
    path = Path(uri).expanduser()
    if path.is_dir():
        info = _directory_info(path, uri)
        model = mlflow.sklearn.load_model(str(path))
    elif resolved := registry.resolve(uri):
        version, alias = resolved  # models:/NAME/VERSION reports the version's first alias, if it has one
        alias = alias or (version.aliases[0] if version.aliases else None)
        info = registry_model_info(registry.client(), version, uri, alias=alias)
        model = mlflow.sklearn.load_model(f"models:/{version.name}/{version.version}")
    else:
        use_tracking()
        info = model_info(uri=uri)
        model = mlflow.sklearn.load_model(uri)
    _check_contract(model, uri)
    _return_freed_memory()
    log.info("loaded model %s (name=%s version=%s) in %.2f s", uri, info["name"], info["version"],
             time.perf_counter() - started)
    return LoadedModel(model=model, info=info)


def _return_freed_memory() -> None:
    """Give the heap pages freed while loading back to the OS (glibc's ``malloc_trim``; nothing elsewhere).

    Reading an artifact allocates far more than the model keeps, and glibc holds on to freed heap pages: without
    this each loaded model (production, and a shadow challenger beside it) kept ~25 MB it does not use (measured).
    """
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc only (not macOS or musl)
    if trim is not None:
        trim(0)


def limit_threads(model: Any, threads: int) -> None:
    """Set every ``n_jobs`` in the model (LightGBM's prediction threads) to ``threads``.

    Training may use every core, but a server worker or a Spark task runs one model per core: more threads per call
    oversubscribe the CPU, and a one-comment prediction with 2 OpenMP threads costs ~10x one with 1.
    """
    if hasattr(model, "get_params") and hasattr(model, "set_params"):
        keys = [k for k in model.get_params(deep=True) if k == "n_jobs" or k.endswith("__n_jobs")]
        if keys:
            model.set_params(**dict.fromkeys(keys, threads))


def predict_frame(model: Any, texts: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Classes (-1/0/1, int8) and their probabilities for a sequence of texts (nulls score as empty text)."""
    frame = pd.DataFrame({TEXT_COLUMN: ["" if not isinstance(t, str) else t for t in texts]})
    if frame.empty:
        return np.empty(0, dtype=np.int8), np.empty(0, dtype=np.float64)
    proba = np.asarray(model.predict_proba(frame), dtype=np.float64)
    best = proba.argmax(axis=1)
    classes = np.asarray(model.classes_).astype(np.int8)
    return classes[best], proba[np.arange(len(best)), best]


def _directory_info(path: Path, uri: str) -> dict[str, Any]:
    raw = read_info(path)
    if not raw:
        log.warning("%s has no %s; the model is described by its URI only", path, MODEL_INFO_FILE)
    return model_info(uri=uri, **{key: raw.get(key) for key in MODEL_INFO_KEYS if key != "uri"})


def _check_contract(model: Any, uri: str) -> None:
    if problems := output_problems(model):
        raise YtSentimentError(f"{uri} does not follow the model contract: {'; '.join(problems)}; serve a model "
                               "that `ytsentiment promote` accepted (its gate checks the same contract)")
