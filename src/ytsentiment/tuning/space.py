"""The search space and settings (params.yaml ``tune:``), and how a trial's values become params and a dvc line.

Every knob is named exactly as params.yaml names it (``featurize.max_features``, ``train.learning_rate``), so a
trial's values apply to the ``FeaturizeParams``/``TrainParams`` the stages read and print as the
``dvc exp run -S key=value ...`` line that adopts them. Floats are rounded to 3 significant digits *before* a trial
uses them, so the printed line reproduces exactly what the trial trained.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ytsentiment import YtSentimentError
from ytsentiment.config import FeaturizeParams, Params, TrainParams

SECTIONS = {"featurize": FeaturizeParams, "train": TrainParams}
SIGNIFICANT_DIGITS = 3
SMALLEST_FLOAT = 1e-4


@dataclass(frozen=True)
class Knob:
    """One searched key: a numeric range (``low``..``high``, integers when both bounds are) or a list of choices."""

    key: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] | None = None

    @property
    def integer(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int)

    @property
    def bounds(self) -> tuple[float, float]:
        """``(low, high)`` of a range knob."""
        if self.low is None or self.high is None:
            raise YtSentimentError(f"params: tune.space.{self.key} is a list of choices, not a range")
        return self.low, self.high

    def suggest(self, trial) -> Any:
        if self.choices is not None:
            return trial.suggest_categorical(self.key, list(self.choices))
        low, high = self.bounds
        if self.integer:
            return trial.suggest_int(self.key, low, high, log=self.log)
        return round_value(trial.suggest_float(self.key, float(low), float(high), log=self.log))

    def contains(self, value: Any) -> bool:
        if self.choices is not None:
            return any(value is c or (type(value) is type(c) and value == c) for c in self.choices)
        low, high = self.bounds
        return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high


@dataclass(frozen=True)
class TuneParams:
    space: tuple[Knob, ...]
    experiment: str = "ytsentiment-tune"
    rows: int = 40000
    test_rows: int = 10000
    validation_fraction: float = 0.2
    objective: str = "human"
    startup_trials: int = 5
    prune_after_trials: int = 5
    prune_warmup_rounds: int = 50
    prune_percentile: float = 20.0
    report_every: int = 10


def _knob(key: str, spec: Any) -> Knob:
    section, _, name = key.partition(".")
    cls = SECTIONS.get(section)
    if cls is None or name not in {f.name for f in dataclasses.fields(cls)}:
        known = sorted(f"{s}.{f.name}" for s, c in SECTIONS.items() for f in dataclasses.fields(c))
        raise YtSentimentError(f"params: tune.space key '{key}' is not a featurize/train knob; use one of {known}")
    if not isinstance(spec, Mapping):
        raise YtSentimentError(f"params: tune.space.{key} must be {{low, high[, log]}} or {{choices: [...]}}")
    if set(spec) == {"choices"}:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise YtSentimentError(f"params: tune.space.{key}.choices must be a non-empty list")
        return Knob(key, choices=tuple(choices))
    if not {"low", "high"} <= set(spec) <= {"low", "high", "log"}:
        raise YtSentimentError(f"params: tune.space.{key} must be {{low, high[, log]}} or {{choices: [...]}}, "
                               f"got keys {sorted(spec)}")
    low, high, log = spec["low"], spec["high"], bool(spec.get("log", False))
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high))
    if not numbers or low >= high or (log and low <= 0):
        raise YtSentimentError(f"params: tune.space.{key}: need numbers low < high (and low > 0 with log), "
                               f"got low={low!r} high={high!r}")
    if isinstance(low, float) and abs(low) < SMALLEST_FLOAT:
        # DVC writes such a value back as `1e-05`, which PyYAML (load_params) reads as a string, not a number.
        raise YtSentimentError(f"params: tune.space.{key}: low={low!r} is below {SMALLEST_FLOAT}; `dvc exp run -S` "
                               "would write values like 1e-05 that params.yaml readers take for text")
    return Knob(key, low, high, log)


def parse_tune(raw: Mapping[str, Any]) -> TuneParams:
    """The ``tune:`` section of a params mapping, validated (every key must be a featurize/train knob)."""
    section = raw.get("tune")
    if not isinstance(section, Mapping) or not isinstance(section.get("space"), Mapping) or not section["space"]:
        raise YtSentimentError("params: add a `tune:` section with a non-empty `space:` mapping (see params.yaml)")
    names = {f.name for f in dataclasses.fields(TuneParams)}
    unknown = sorted(set(section) - names)
    if unknown:
        raise YtSentimentError(f"params: section 'tune': unknown keys {unknown} (allowed: {sorted(names)})")
    tune = TuneParams(**{**section, "space": tuple(_knob(k, v) for k, v in section["space"].items())})
    if not 0 < tune.validation_fraction < 1:
        raise YtSentimentError("params: tune.validation_fraction must be between 0 and 1")
    if tune.report_every < 1 or tune.rows < 2 or tune.test_rows < 1:
        raise YtSentimentError("params: tune.report_every, tune.rows and tune.test_rows must be positive")
    return tune


def round_value(value: Any) -> Any:
    """Floats to 3 significant digits (what a person would type); anything else unchanged."""
    if isinstance(value, float):
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    return value


def current_values(params: Params, space: tuple[Knob, ...]) -> dict[str, Any]:
    """The values params.yaml holds now for the searched keys (the defaults a search is compared with)."""
    sections = {"featurize": params.featurize, "train": params.train}
    return {k.key: getattr(sections[k.key.split(".")[0]], k.key.split(".", 1)[1]) for k in space}


def apply(params: Params, values: Mapping[str, Any]) -> tuple[FeaturizeParams, TrainParams]:
    """params.yaml's featurize and train params with a trial's values in place of the defaults."""
    changes: dict[str, dict[str, Any]] = {"featurize": {}, "train": {}}
    for key, value in values.items():
        section, _, name = key.partition(".")
        changes[section][name] = value
    featurize = dataclasses.replace(params.featurize, **changes["featurize"])
    if featurize.ngram_max < featurize.ngram_min:
        raise YtSentimentError(f"tune: featurize.ngram_max {featurize.ngram_max} < ngram_min {featurize.ngram_min}: "
                               "narrow tune.space so it cannot happen")
    return featurize, dataclasses.replace(params.train, **changes["train"])


def format_value(value: Any) -> str:
    """A value as DVC's ``-S`` (Hydra override) grammar reads it back: null, true/false, 0.12, 30000, balanced."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return np.format_float_positional(value, trim="0")  # never 1e-05: always a plain decimal with a dot
    return str(value)


def dvc_exp_run_line(values: Mapping[str, Any]) -> str:
    """The command that adopts ``values`` as an experiment: ``dvc exp run -S key=value ...`` (shell-quoted)."""
    return " ".join(["dvc exp run", *(f"-S {shlex.quote(f'{k}={format_value(v)}')}" for k, v in values.items())])
