"""How a trial draws from the search space (``Params.tune``) and how its values become params and a dvc line.

Every knob is named exactly as params.yaml names it (``featurize.max_features``, ``train.learning_rate``), so a
trial's values apply to the ``FeaturizeParams``/``TrainParams`` the stages read and print as the
``dvc exp run -S key=value ...`` line that adopts them. Floats are rounded to 3 significant digits *before* a trial
uses them, so the printed line reproduces exactly what the trial trained.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Mapping
from typing import Any

import numpy as np

from ytsentiment import YtSentimentError
from ytsentiment.config import FeaturizeParams, Knob, Params, TrainParams

SIGNIFICANT_DIGITS = 3


def suggest(knob: Knob, trial) -> Any:
    """A trial's value for ``knob`` (floats rounded as ``round_value`` does)."""
    if knob.choices is not None:
        return trial.suggest_categorical(knob.key, list(knob.choices))
    low, high = knob.bounds
    if knob.integer:
        return trial.suggest_int(knob.key, low, high, log=knob.log)
    return round_value(trial.suggest_float(knob.key, float(low), float(high), log=knob.log))


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
