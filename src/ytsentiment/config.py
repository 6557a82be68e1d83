"""Configuration: params.yaml read once into frozen dataclasses, and settings that come from the environment.

Knobs live in params.yaml (one section per DVC stage plus ``base``); hosts, URIs and names of remote things live in
environment variables (documented in ``.env.example``). Nothing here touches the network or the disk at import.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ytsentiment import YtSentimentError

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
    linear_weight: float = 0.0  # share of the logistic regression in the blended probabilities (0 = LightGBM only,
    #                             1 = the logistic regression alone: LightGBM is not fitted)
    linear_c: float = 1.0  # its inverse regularisation strength
    linear_tol: float = 1e-3  # its solver's (saga) stopping tolerance
    linear_max_iter: int = 100  # and epochs at most


@dataclass(frozen=True)
class EvaluateParams:
    experiment: str
    vader_threshold: float


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


@dataclass(frozen=True)
class Params:
    seed: int
    ingest: IngestParams
    clean: CleanParams
    featurize: FeaturizeParams
    train: TrainParams
    evaluate: EvaluateParams
    gate: GateParams
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
    return dataclasses.replace(
        gate, floors={str(k): float(v) for k, v in gate.floors.items()},
        compare=tuple(gate.compare), compare_if_present=tuple(gate.compare_if_present),
        source_tolerance=_tolerance("gate.source_tolerance", gate.source_tolerance),
        source_tolerances={k: _tolerance(f"gate.source_tolerances.{k}", v) for k, v in overrides.items()},
    )


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
    clean = _build(CleanParams, "clean", raw["clean"])
    if not 0 < clean.test_size < 1:
        raise YtSentimentError("params: clean.test_size must be between 0 and 1")
    return Params(
        seed=int(raw["base"]["seed"]),
        ingest=_build(IngestParams, "ingest", {**raw["ingest"], "include": include,
                                                "sources": tuple(_source(i, s) for i, s in enumerate(sources))}),
        clean=clean,
        featurize=_build(FeaturizeParams, "featurize", raw["featurize"]),
        train=train,
        evaluate=_build(EvaluateParams, "evaluate", raw["evaluate"]),
        gate=_gate(raw["gate"], names),
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


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def artifact_root() -> str | None:
    """Artifact location for new experiments on the embedded store (a git-ignored folder in the repo).

    With a tracking server the server decides, unless MLFLOW_ARTIFACT_ROOT says otherwise.
    """
    if "MLFLOW_ARTIFACT_ROOT" in os.environ:
        return os.environ["MLFLOW_ARTIFACT_ROOT"]
    if tracking_uri().startswith("sqlite:") or tracking_uri().startswith("file:"):
        return Path("mlartifacts").resolve().as_uri()
    return None


def model_name() -> str:
    return os.environ.get("MODEL_NAME") or DEFAULT_MODEL_NAME
