"""Configuration: params.yaml read once into frozen dataclasses, and the project's settings from the environment.

Knobs live in params.yaml, read by one loader (``load_params``): one section per DVC stage plus ``base``, and
``gate``, ``monitor``, ``tune`` and ``channels`` for the verbs and the DAGs that read them. Hosts, URIs and names of
remote things live in environment variables (documented in ``.env.example``). Nothing here touches the network or
the disk at import.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ytsentiment import YtSentimentError
from ytsentiment.environ import EnvSettings

VALID_LABELS = frozenset({-1, 0, 1})


@dataclass(frozen=True)
class SourceFile:
    """One file of a source: a path in the upstream repository at the pinned commit (or, for a source without a
    repository, a local path or glob) and its sha256; for a file read from inside an archive, the member's path and
    sha256 too (the mirror keeps only the member, a download is the whole archive)."""

    path: str
    sha256: str
    member: str | None = None
    member_sha256: str | None = None


@dataclass(frozen=True)
class Source:
    name: str
    group: str
    format: str  # which reader turns the files into (text, label) rows: see ytsentiment.upstream.READERS
    files: tuple[SourceFile, ...]
    labels: Mapping[Any, int]  # label as the file spells it -> -1/0/1
    repo: str | None = None  # OWNER/NAME on GitHub; None = the files are local paths (globs allowed)
    commit: str | None = None  # the full commit the files are pinned to
    text_column: str | None = None  # format csv: which columns hold the text and the label
    label_column: str | None = None
    drop_labels: tuple[Any, ...] = ()  # labels whose rows are dropped (irrelevant, "I can't tell", ...)
    read: Mapping[str, Any] = field(default_factory=dict)  # the reader's options (csv: pandas.read_csv's)
    weight: float = 1.0
    max_rows: int | None = None
    # An optional source (the feedback export) is skipped, and said so, while none of its files exists.
    optional: bool = False


SIDECAR = "sidecar"


@dataclass(frozen=True)
class IngestParams:
    sources: tuple[Source, ...]
    include: tuple[str, ...] | None = None  # names of the sources to use; None = all
    mirror: str = "../shared/upstream"  # local copy of the upstream files at OWNER/NAME/PATH, tried first
    url: str = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"  # then the raw file at the pinned commit

    @property
    def selected(self) -> tuple[Source, ...]:
        return self.sources if self.include is None else tuple(s for s in self.sources if s.name in self.include)


@dataclass(frozen=True)
class CleanParams:
    test_size: float


@dataclass(frozen=True)
class FeaturizeParams:
    max_features: int
    ngram_min: int
    ngram_max: int
    min_df: int
    max_df: float
    sublinear_tf: bool
    lexicon: bool
    char_features: int = 0  # hashed character n-gram columns (a power of two); 0 = no character n-grams
    char_ngram_min: int = 2
    char_ngram_max: int = 5
    shape: bool = False  # comment-shape columns (length, words, emoji, "!", "?": model.CommentShape)
    link_augment: float = 0.0  # share of the training comments without a link that get one (stages.featurize)


@dataclass(frozen=True)
class TrainParams:
    n_estimators: int
    learning_rate: float
    num_leaves: int
    max_depth: int
    min_child_samples: int
    colsample_bytree: float
    subsample: float
    subsample_freq: int
    reg_lambda: float
    max_bin: int
    class_weight: str | None
    early_stopping_rounds: int
    validation_fraction: float
    n_jobs: int
    learner: str = "stack"  # model.LEARNERS: "stack" (LightGBM on the logistic regression's scores) or "linear"
    linear_weight: float = 0.5  # the logistic regression's share of the averaged probabilities
    stack_folds: int = 2  # folds whose held-out scores LightGBM learns from
    calibration: str = "temperature"  # model.CALIBRATIONS: fitted on the held-out validation_fraction of rows
    linear_c: float = 1.0  # its inverse regularisation strength
    word_nb_power: float = 0.0  # naive Bayes weights on its word columns (model.nb_weights), to this power; 0 = off
    linear_tol: float = 1e-3  # its solver's (saga) stopping tolerance
    linear_max_iter: int = 100  # and epochs at most


@dataclass(frozen=True)
class EvaluateParams:
    experiment: str
    vader_threshold: float


@dataclass(frozen=True)
class OnlineGateParams:
    """``gate.online``: the evidence a candidate needs from shadowing production (``ytsentiment challenge``)."""

    min_shadowed: int     # comments it scored beside production
    min_feedback: int     # feedback rows people sent about those comments
    tolerance: float      # its live macro-F1 on them may be at most this far below production's


@dataclass(frozen=True)
class GateParams:
    floors: Mapping[str, float]
    compare: tuple[str, ...]
    tolerance: float
    behaviour_min_pass_rate: float
    latency_comments: int
    latency_budget_ms: float
    # Scopes compared like `compare` when the test rows have them (the feedback scope exists once it is exported).
    compare_if_present: tuple[str, ...] = ()
    # Per-source watch: every source of the test rows (scope source.<name>) may fall at most its tolerance below
    # production's macro-F1 on the same rows. source_tolerances overrides it per source (names from
    # ingest.sources); a tolerance of None leaves that source unwatched (source_tolerance None: every unlisted one).
    source_tolerance: float | None = None
    source_tolerances: Mapping[str, float | None] = field(default_factory=dict)
    online: OnlineGateParams | None = None  # None: the gate asks for no online evidence
    # Per-suite pass-rate floors (behaviour.run_all names) overriding behaviour_min_pass_rate.
    behaviour_floors: Mapping[str, float] = field(default_factory=dict)
    # Calibration: the candidate's expected calibration error on ece_scope may exceed production's (same rows) by at
    # most ece_tolerance; None: not watched.
    ece_scope: str = "human"
    ece_tolerance: float | None = None


WINDOW_KINDS = ("count", "time")


@dataclass(frozen=True)
class MonitorParams:
    """``monitor:``, read by ``ytsentiment monitor``: every threshold of the retrain decision."""

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


TUNABLE = {"featurize": FeaturizeParams, "train": TrainParams}  # the sections tune.space may search
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

    def contains(self, value: Any) -> bool:
        if self.choices is not None:
            return any(value is c or (type(value) is type(c) and value == c) for c in self.choices)
        low, high = self.bounds
        return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high


@dataclass(frozen=True)
class TuneParams:
    """``tune:``, read by ``ytsentiment tune``: the search space (ranges over featurize/train knobs) and budget."""

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


@dataclass(frozen=True)
class Params:
    seed: int
    ingest: IngestParams
    clean: CleanParams
    featurize: FeaturizeParams
    train: TrainParams
    evaluate: EvaluateParams
    gate: GateParams
    monitor: MonitorParams = MonitorParams()
    tune: TuneParams | None = None  # None: params.yaml has no `tune:` section (`ytsentiment tune` says so)
    channels: tuple[str, ...] = ()  # what the Airflow DAG ytsentiment_channels collects (UC… ids or @handles)
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)


def _build(cls, section: str, values: Any):
    if not isinstance(values, Mapping):
        raise YtSentimentError(f"params: section '{section}' must be a mapping, got {type(values).__name__}")
    names = {f.name for f in fields(cls)}
    required = {f.name for f in fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    unknown = sorted(set(values) - names)
    missing = sorted(required - set(values))
    if unknown or missing:
        raise YtSentimentError(
            f"params: section '{section}': "
            + (f"unknown keys {unknown} " if unknown else "")
            + (f"missing keys {missing} " if missing else "")
            + f"(allowed: {sorted(names)})"
        )
    return cls(**values)


def _source(i: int, values: Any) -> Source:
    where = f"ingest.sources[{i}]"
    if isinstance(values, Mapping) and isinstance(values.get("files"), list):
        files = tuple(_build(SourceFile, f"{where}.files[{j}]", f) for j, f in enumerate(values["files"]))
        values = {**values, "files": files}
    src = _build(Source, where, values)
    if not src.files:
        raise YtSentimentError(f"params: source '{src.name}' lists no files")
    if (src.repo is None) != (src.commit is None):
        raise YtSentimentError(f"params: source '{src.name}': repo and commit go together")
    if src.commit is not None and not re.fullmatch(r"[0-9a-f]{40}", src.commit):
        raise YtSentimentError(f"params: source '{src.name}': commit must be a full 40-hex-digit commit id, got "
                               f"{src.commit!r}")
    for f in src.files:
        shas = [f.sha256] + ([f.member_sha256] if f.member else [])
        if (f.member is None) != (f.member_sha256 is None):
            raise YtSentimentError(f"params: source '{src.name}': {f.path}: member and member_sha256 go together")
        if any(not re.fullmatch(r"[0-9a-fA-F]{64}", str(sha)) for sha in shas) and not (
                f.sha256 == SIDECAR and src.repo is None):
            raise YtSentimentError(f"params: source '{src.name}': {f.path}: sha256 must be 64 hex digits (or "
                                   f"'{SIDECAR}' for a local export that records it in its JSON sidecar), got "
                                   f"{f.sha256!r}")
    bad = sorted({int(v) for v in src.labels.values()} - VALID_LABELS)
    if bad:
        raise YtSentimentError(f"params: source '{src.name}' maps labels to {bad}; targets must be -1, 0 or 1")
    return dataclasses.replace(src, labels=dict(src.labels), drop_labels=tuple(src.drop_labels),
                               read=dict(src.read))


def _tolerance(key: str, value: Any) -> float | None:
    """A per-source tolerance: a number in [0, 1] or None (not watched)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise YtSentimentError(f"params: {key} must be a number between 0 and 1 (or null: not watched), got "
                               f"{value!r}")
    return float(value)


def _gate(values: Any, sources: list[str]) -> GateParams:
    gate = _build(GateParams, "gate", values)
    overrides = gate.source_tolerances if gate.source_tolerances is not None else {}
    if not isinstance(overrides, Mapping):
        raise YtSentimentError(f"params: gate.source_tolerances must map source names to tolerances, got "
                               f"{type(overrides).__name__}")
    unknown = sorted(str(k) for k in overrides if k not in sources)
    if unknown:
        raise YtSentimentError(f"params: gate.source_tolerances: unknown source(s) {unknown} (ingest.sources names: "
                               f"{sources})")
    online = None if gate.online is None else _build(OnlineGateParams, "gate.online", gate.online)
    if online is not None and (online.min_shadowed < 1 or online.min_feedback < 1
                               or not 0 <= online.tolerance <= 1):
        raise YtSentimentError("params: gate.online: min_shadowed and min_feedback must be positive integers, "
                               f"tolerance between 0 and 1; got {online}")
    return dataclasses.replace(
        gate, online=online, floors={str(k): float(v) for k, v in gate.floors.items()},
        behaviour_floors={str(k): float(v) for k, v in (gate.behaviour_floors or {}).items()},
        ece_tolerance=_tolerance("gate.ece_tolerance", gate.ece_tolerance),
        compare=tuple(gate.compare), compare_if_present=tuple(gate.compare_if_present),
        source_tolerance=_tolerance("gate.source_tolerance", gate.source_tolerance),
        source_tolerances={k: _tolerance(f"gate.source_tolerances.{k}", v) for k, v in overrides.items()},
    )


def _knob(key: str, spec: Any) -> Knob:
    section, _, name = key.partition(".")
    cls = TUNABLE.get(section)
    if cls is None or name not in {f.name for f in dataclasses.fields(cls)}:
        known = sorted(f"{s}.{f.name}" for s, c in TUNABLE.items() for f in dataclasses.fields(c))
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


def _tune(section: Any) -> TuneParams:
    """The ``tune:`` section, validated (every key of its space must be a featurize/train knob)."""
    if not isinstance(section, Mapping) or not isinstance(section.get("space"), Mapping) or not section["space"]:
        raise YtSentimentError("params: the `tune:` section needs a non-empty `space:` mapping (see params.yaml)")
    tune = _build(TuneParams, "tune", {**section, "space": tuple(_knob(k, v) for k, v in section["space"].items())})
    if not 0 < tune.validation_fraction < 1:
        raise YtSentimentError("params: tune.validation_fraction must be between 0 and 1")
    if tune.report_every < 1 or tune.rows < 2 or tune.test_rows < 1:
        raise YtSentimentError("params: tune.report_every, tune.rows and tune.test_rows must be positive")
    return tune


def _monitor(values: Any) -> MonitorParams:
    """The ``monitor:`` section, validated (missing keys take the defaults above; unknown keys are an error)."""
    p = _build(MonitorParams, "monitor", {} if values is None else values)
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


def _channels(values: Any) -> tuple[str, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise YtSentimentError(f"params: channels must be a list of UC… channel ids or @handles, got {values!r}")
    return tuple(v.strip() for v in values)


def parse_params(raw: Mapping[str, Any]) -> Params:
    """Validate a params mapping (as loaded from params.yaml) into frozen dataclasses."""
    for section in ("base", "ingest", "clean", "featurize", "train", "evaluate", "gate"):
        if section not in raw:
            raise YtSentimentError(f"params: missing section '{section}'")
    sources = raw["ingest"].get("sources") if isinstance(raw["ingest"], Mapping) else None
    if not sources:
        raise YtSentimentError("params: ingest.sources must list at least one source")
    names = [s.get("name") for s in sources]
    if len(set(names)) != len(names):
        raise YtSentimentError(f"params: ingest.sources names must be unique, got {names}")
    include = raw["ingest"].get("include")
    if include is not None:
        unknown = sorted(set(include) - set(names))
        if unknown or not include:
            raise YtSentimentError(f"params: ingest.include must name sources from {names}, got {include}")
        include = tuple(include)
    train = _build(TrainParams, "train", raw["train"])
    if not 0 < train.validation_fraction < 1:
        raise YtSentimentError("params: train.validation_fraction must be between 0 and 1")
    if train.learner not in ("stack", "linear") or train.calibration not in ("temperature", "isotonic", "none"):
        raise YtSentimentError(f"params: train.learner must be stack or linear and train.calibration temperature, "
                               f"isotonic or none; got {train.learner!r}, {train.calibration!r}")
    if not 0 < train.linear_weight < 1:
        raise YtSentimentError("params: train.linear_weight must be between 0 and 1 (train.learner: linear for the "
                               "logistic regression alone)")
    if not 0 <= train.word_nb_power <= 2:
        raise YtSentimentError(f"params: train.word_nb_power must be between 0 (off) and 2, got {train.word_nb_power}")
    if train.stack_folds < 2:
        raise YtSentimentError(f"params: train.stack_folds must be at least 2, got {train.stack_folds}")
    featurize = _build(FeaturizeParams, "featurize", raw["featurize"])
    if not 0 <= featurize.link_augment < 1:
        raise YtSentimentError(f"params: featurize.link_augment must be in [0, 1), got {featurize.link_augment}")
    clean = _build(CleanParams, "clean", raw["clean"])
    if not 0 < clean.test_size < 1:
        raise YtSentimentError("params: clean.test_size must be between 0 and 1")
    return Params(
        seed=int(raw["base"]["seed"]),
        ingest=_build(IngestParams, "ingest", {**raw["ingest"], "include": include,
                                                "sources": tuple(_source(i, s) for i, s in enumerate(sources))}),
        clean=clean,
        featurize=featurize,
        train=train,
        evaluate=_build(EvaluateParams, "evaluate", raw["evaluate"]),
        gate=_gate(raw["gate"], names),
        monitor=_monitor(raw.get("monitor")),
        tune=_tune(raw["tune"]) if raw.get("tune") is not None else None,
        channels=_channels(raw.get("channels") or []),
        raw=raw,
    )


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    if not path.is_file():
        raise YtSentimentError(f"params file not found: {path} (run from the repository root)")
    with path.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    if not isinstance(raw, Mapping):
        raise YtSentimentError(f"{path}: expected a mapping of sections")
    return parse_params(raw)


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"learning_rate": 0.1}}`` -> ``{"train.learning_rate": 0.1}`` (lists of mappings by index)."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for i, item in enumerate(value):
                out.update(flatten(item, f"{name}.{item.get('name', i)}."))
        else:
            out[name] = value
    return out


# ---- settings from the environment -------------------------------------------------------------------------------

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
DEFAULT_MODEL_NAME = "ytsentiment"
DEFAULT_MODEL_URI = f"models:/{DEFAULT_MODEL_NAME}@production"  # what the API and `ytsentiment score` load
DEFAULT_UPSTREAM_CACHE = "~/.cache/ytsentiment/upstream"


class ProjectSettings(EnvSettings):
    """Where runs and models live, for the stages and the CLI verbs (MLFLOW_TRACKING_URI is MLflow's own variable,
    which MLflow also reads itself)."""

    mlflow_tracking_uri: str = DEFAULT_TRACKING_URI
    mlflow_artifact_root: str | None = None  # artifact location for new experiments (see artifact_root)
    model_name: str = DEFAULT_MODEL_NAME  # the registered model
    model_uri: str | None = None  # the model `score` and `predict` load unless --model-uri says otherwise
    upstream_cache_dir: str = DEFAULT_UPSTREAM_CACHE  # verified downloads of the upstream sources


def tracking_uri() -> str:
    return ProjectSettings.from_env().mlflow_tracking_uri


def artifact_root() -> str | None:
    """Artifact location for new experiments on the embedded store (a git-ignored folder in the repo).

    With a tracking server the server decides, unless MLFLOW_ARTIFACT_ROOT says otherwise.
    """
    settings = ProjectSettings.from_env()
    if settings.mlflow_artifact_root:
        return settings.mlflow_artifact_root
    if settings.mlflow_tracking_uri.startswith(("sqlite:", "file:")):
        return Path("mlartifacts").resolve().as_uri()
    return None


def model_name() -> str:
    return ProjectSettings.from_env().model_name
