"""The one contract every layer agrees on: labels, the model's output, the model-info record.

Training (evaluate, artifact), the gate, the registry, the API (service, model store, OpenAPI, charts, metrics)
and the batch and monitoring jobs import these names; none of them re-declares a label table, an output check or
a model-info shape. The Chrome extension keeps its one copy of the label table in ``chrome-extension/lib``.

- ``LABELS``: class value -> name, in class order (-1, 0, 1); ``CLASSES``, ``NAMES`` and ``CLASS_OF`` derive from it.
- ``output_problems(model)``: what is wrong with a model's output contract (classes, ``predict``,
  ``predict_proba``) on ``INPUT_EXAMPLE``; an empty list when nothing is.
- ``model_info(...)``: the record ``model_info.json`` stores and the API holds. ``trained_at`` has one
  meaning everywhere: when the MLflow run that trained and evaluated the model **finished** (UTC, ISO-8601, seconds);
  ``trained_at_of(run)`` computes it from an MLflow run. ``public_model_info(info)`` is the part ``GET /model``
  shows (keys ``PUBLIC_MODEL_INFO_KEYS``): no URI, run id, commit or full metric set.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

LABELS: dict[int, str] = {-1: "negative", 0: "neutral", 1: "positive"}
CLASSES: tuple[int, ...] = tuple(LABELS)
NAMES: tuple[str, ...] = tuple(LABELS.values())
CLASS_OF: dict[str, int] = {name: value for value, name in LABELS.items()}

TEXT_COLUMN = "text"  # the model's one input column (its MLflow signature)

_EXAMPLE_TEXTS = (
    "This video is amazing, thank you so much! 😍",
    "not good at all, I want my 10 minutes back",
    "Uploaded at 3pm, part 2 tomorrow",
)


def __getattr__(name: str) -> Any:
    """``INPUT_EXAMPLE`` (a DataFrame of ``_EXAMPLE_TEXTS``), made on first use: importing the contract stays
    free of pandas, for the processes that only need its constants."""
    if name == "INPUT_EXAMPLE":
        import pandas as pd

        example = pd.DataFrame({TEXT_COLUMN: list(_EXAMPLE_TEXTS)})
        globals()["INPUT_EXAMPLE"] = example
        return example
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

MODEL_INFO_KEYS = ("name", "version", "alias", "uri", "run_id", "metrics", "trained_at", "git_commit")
PUBLIC_MODEL_INFO_KEYS = ("name", "version", "alias", "trained_at", "metrics")
# The headline metrics GET /model shows -> the run's metric they come from (macro-F1 on all test rows, on the
# human-labelled ones).
HEADLINE_METRICS = {"overall_macro_f1": "model.overall.macro_f1", "human_macro_f1": "model.human.macro_f1"}


def output_problems(model: Any, example: pd.DataFrame | None = None) -> list[str]:
    """What is wrong with ``model``'s output contract on ``example`` (an empty list when nothing is).

    The contract: ``classes_`` is exactly (-1, 0, 1) in that order; ``predict`` returns one of them per row;
    ``predict_proba`` returns one probability distribution per row, columns in ``classes_`` order.
    """
    import numpy as np

    example = __getattr__("INPUT_EXAMPLE") if example is None else example
    problems = []
    # .item(): numpy scalars to Python values without assuming they are numbers (a broken model may use strings).
    classes = [c.item() if hasattr(c, "item") else c for c in getattr(model, "classes_", [])]
    if classes != list(CLASSES):
        problems.append(f"classes_ is {classes}, expected {list(CLASSES)}")
    if not callable(getattr(model, "predict_proba", None)):
        return [*problems, "the model has no predict_proba"]
    try:
        labels = np.asarray(model.predict(example))
        proba = np.asarray(model.predict_proba(example))
    except Exception as exc:  # noqa: BLE001 - any failure to predict is a contract failure worth reporting
        return [*problems, f"predict failed on the input example: {type(exc).__name__}: {exc}"]
    n = len(example)
    if labels.shape != (n,) or not set(labels.tolist()) <= set(CLASSES):
        problems.append(f"predict returned {labels.tolist()!r}, expected {n} labels in {list(CLASSES)}")
    if proba.shape != (n, len(CLASSES)):
        problems.append(f"predict_proba returned shape {proba.shape}, expected {(n, len(CLASSES))}")
    elif not np.allclose(proba.sum(axis=1), 1, atol=1e-4) or (proba < 0).any():
        problems.append("predict_proba rows are not probability distributions (each must be >= 0 and sum to 1)")
    return problems


def iso_utc(millis: int | float | None) -> str | None:
    """MLflow's epoch milliseconds as ISO-8601 UTC to the second; None stays None."""
    if not millis:
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC).isoformat(timespec="seconds")


def trained_at_of(run: Any) -> str | None:
    """When the MLflow run that trained and evaluated the model finished (its start if it never finished)."""
    return iso_utc(run.info.end_time or run.info.start_time)


def model_info(uri: str, name: str | None = None, version: Any = None, alias: str | None = None,
               run_id: str | None = None, metrics: dict[str, float] | None = None, trained_at: str | None = None,
               git_commit: str | None = None) -> dict[str, Any]:
    """The model-info record (keys ``MODEL_INFO_KEYS``): versions are strings whatever the store returned."""
    return {"name": name, "version": None if version is None else str(version), "alias": alias, "uri": uri,
            "run_id": run_id, "metrics": {k: float(v) for k, v in (metrics or {}).items()},
            "trained_at": trained_at, "git_commit": git_commit or None}


def public_model_info(info: dict[str, Any]) -> dict[str, Any]:
    """What ``GET /model`` shows of a model-info record: name, version, alias, trained_at and ``HEADLINE_METRICS``
    (None for one the run did not log)."""
    metrics = info.get("metrics") or {}
    headline = {name: None if metrics.get(key) is None else float(metrics[key])
                for name, key in HEADLINE_METRICS.items()}
    return {"name": info.get("name"), "version": info.get("version"), "alias": info.get("alias"),
            "trained_at": info.get("trained_at"), "metrics": headline}


def registry_model_info(client: Any, version: Any, uri: str, alias: str | None) -> dict[str, Any]:
    """``model_info`` for a registered MLflow ``ModelVersion``: metrics and finish time from its run."""
    run = client.get_run(version.run_id) if version.run_id else None
    return model_info(
        uri=uri, name=version.name, version=version.version, alias=alias, run_id=version.run_id,
        metrics=dict(run.data.metrics) if run else {},
        trained_at=trained_at_of(run) if run else iso_utc(version.creation_timestamp),
        git_commit=(version.tags or {}).get("git_commit"),
    )
