"""The ``monitor:`` section of params.yaml, validated into a frozen ``MonitorParams``.

It is read by ``ytsentiment monitor`` (``make monitor``), not by a DVC stage. Every threshold of the retrain
decision lives here, so a change of policy is a params change, reviewed like any other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ytsentiment import YtSentimentError

WINDOW_KINDS = ("count", "time")


@dataclass(frozen=True)
class MonitorParams:
    experiment: str = "ytsentiment-monitor"
    window_by: str = "count"          # count: the last window_size predictions; time: those of the last window_hours
    window_size: int = 2000
    window_hours: float = 24.0
    baseline_size: int = 2000         # the first predictions a version serves, pinned as its reference
    min_predictions: int = 200        # fewer in the window or the baseline -> "not enough data", never a drift alarm
    min_feedback: int = 50            # fewer labelled feedback rows -> live quality is not judged
    max_drift_rows: int = 2000        # rows per side given to Evidently (seeded sample): keeps it fast
    text_drift_threshold: float = 0.6     # domain-classifier ROC AUC above this = text drift
    stat_threshold: float = 0.1       # Jensen-Shannon (class mix) / normed Wasserstein distance above this = drift
    drift_share: float = 0.5          # share of drifted signals above which the window drifted (text drift alone too)
    live_f1_floor: float = 0.6        # live macro-F1 below this (with >= min_feedback rows) -> retrain
    retrain_on_drift: bool = True     # drift alone (with enough data) -> retrain
    test_split: str | None = "data/interim/test.parquet"   # informative second reference; null = none
    test_sample: int = 2000
    seed: int = 42


def monitor_params(values: Mapping[str, Any] | None) -> MonitorParams:
    """Validate a ``monitor:`` mapping (missing keys take the defaults above; unknown keys are an error)."""
    values = dict(values or {})
    names = {f.name for f in dataclasses.fields(MonitorParams)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise YtSentimentError(f"params: section 'monitor': unknown keys {unknown} (allowed: {sorted(names)})")
    p = MonitorParams(**values)
    if p.window_by not in WINDOW_KINDS:
        raise YtSentimentError(f"params: monitor.window_by is {p.window_by!r}; use one of {list(WINDOW_KINDS)}")
    for key in ("window_size", "baseline_size", "min_predictions", "min_feedback", "max_drift_rows", "test_sample"):
        if int(getattr(p, key)) < 1:
            raise YtSentimentError(f"params: monitor.{key} must be a positive integer")
    for key in ("stat_threshold", "drift_share", "live_f1_floor"):
        if not 0 <= float(getattr(p, key)) <= 1:
            raise YtSentimentError(f"params: monitor.{key} must be between 0 and 1")
    if not 0.5 <= p.text_drift_threshold < 1:
        raise YtSentimentError("params: monitor.text_drift_threshold is a ROC AUC: between 0.5 and 1")
    if p.window_hours <= 0:
        raise YtSentimentError("params: monitor.window_hours must be > 0")
    return p


def load_monitor_params(path: str | Path = "params.yaml") -> MonitorParams:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise YtSentimentError(f"params file not found: {path} (run from the repository root or pass --params)")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return monitor_params(raw.get("monitor"))
