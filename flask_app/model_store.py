"""Load the served model once per worker and say what it is.

``load_model(uri)`` returns a :class:`LoadedModel`: the sklearn Pipeline exactly as training logged it (so the
same normaliser runs inside it), checked against the output contract of ``ytsentiment.contract``, plus the
facts ``GET /model`` reports (``contract.model_info``; ``trained_at`` is when the training run finished). A
registry alias is resolved to a version first and that version is loaded, so the model and its description
cannot disagree if the alias moves meanwhile.

:class:`ModelHolder` runs the load in a background thread so the worker answers ``/health`` at once and
``/ready`` with 503 until the model is in memory; a failed load is logged and keeps the worker not-ready, with
the reason in ``/ready`` (a load balancer's health check then never routes traffic to it).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ytsentiment import YtSentimentError
from ytsentiment.contract import MODEL_INFO_KEYS, model_info, output_problems, registry_model_info

log = logging.getLogger(__name__)

_ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)$")
_VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    model: Any
    info: dict[str, Any]


def load_model(uri: str) -> LoadedModel:
    """Load the Pipeline behind ``uri`` (registry URI or local MLflow model directory) and describe it."""
    # Imported here, not at module level: importing mlflow costs ~2 s, which must not happen at import time.
    import mlflow.sklearn

    from ytsentiment.tracking import use_tracking

    started = time.perf_counter()
    path = Path(uri).expanduser()
    if path.is_dir():
        info = _directory_info(path, uri)
        model = mlflow.sklearn.load_model(str(path))
    elif match := _ALIAS_URI.match(uri):
        use_tracking()
        client = mlflow.MlflowClient()
        version = client.get_model_version_by_alias(match["name"], match["alias"])
        info = registry_model_info(client, version, uri, alias=match["alias"])
        model = mlflow.sklearn.load_model(f"models:/{version.name}/{version.version}")
    elif match := _VERSION_URI.match(uri):
        use_tracking()
        client = mlflow.MlflowClient()
        version = client.get_model_version(match["name"], match["version"])
        info = registry_model_info(client, version, uri, alias=(version.aliases or [None])[0])
        model = mlflow.sklearn.load_model(uri)
    else:
        use_tracking()
        info = model_info(uri=uri)
        model = mlflow.sklearn.load_model(uri)
    _check_contract(model, uri)
    log.info("loaded model %s (name=%s version=%s) in %.2f s", uri, info["name"], info["version"],
             time.perf_counter() - started)
    return LoadedModel(model=model, info=info)


def _directory_info(path: Path, uri: str) -> dict[str, Any]:
    from ytsentiment.artifact import MODEL_INFO_FILE, read_info

    raw = read_info(path)
    if not raw:
        log.warning("%s has no %s; /model will report only the URI", path, MODEL_INFO_FILE)
    return model_info(uri=uri, **{key: raw.get(key) for key in MODEL_INFO_KEYS if key != "uri"})


def _check_contract(model: Any, uri: str) -> None:
    if problems := output_problems(model):
        raise YtSentimentError(f"{uri} does not follow the model contract: {'; '.join(problems)}; serve a model "
                               "that `ytsentiment promote` accepted (its gate checks the same contract)")


def limit_threads(model: Any, threads: int) -> None:
    """Set every ``n_jobs`` in the model (LightGBM's prediction threads) to ``threads``.

    Training may use every core, but a server runs one model per worker: more threads per call than cores per
    worker oversubscribe the CPU, and a one-comment prediction with 2 OpenMP threads costs ~10x one with 1.
    """
    if hasattr(model, "get_params") and hasattr(model, "set_params"):
        keys = [k for k in model.get_params(deep=True) if k == "n_jobs" or k.endswith("__n_jobs")]
        if keys:
            model.set_params(**dict.fromkeys(keys, threads))


class ModelHolder:
    """Holds the worker's one model; loads it once, in the background or in the caller's thread."""

    def __init__(self, uri: str, loader: Callable[[str], LoadedModel] = load_model) -> None:
        self.uri = uri
        self._loader = loader
        self._loaded = threading.Event()
        self.state = "loading"
        self.error: str | None = None
        self.model: LoadedModel | None = None
        self.on_ready: list[Callable[[LoadedModel], None]] = []

    def start(self, background: bool = True) -> None:
        if background:
            threading.Thread(target=self._load, name="model-loader", daemon=True).start()
        else:
            self._load()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the load finished (either way); True if the model is ready."""
        self._loaded.wait(timeout)
        return self.state == "ready"

    def _load(self) -> None:
        try:
            loaded = self._loader(self.uri)
            for callback in self.on_ready:
                callback(loaded)
        except Exception as exc:  # the worker keeps serving /health and reports the reason on /ready
            self.error = f"{type(exc).__name__}: {exc}"
            self.state = "failed"
            log.exception("could not load model %s; this worker stays not-ready", self.uri)
        else:
            self.model = loaded
            self.state = "ready"
        finally:
            self._loaded.set()
