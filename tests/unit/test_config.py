"""params.yaml -> frozen dataclasses: the repo's file loads, and every invalid shape fails naming the key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ytsentiment import YtSentimentError
from ytsentiment.config import flatten, load_params, parse_params

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))


def test_repo_params_load():
    params = load_params(REPO / "params.yaml")
    assert isinstance(params.seed, int)
    names = [s.name for s in params.ingest.sources]
    assert "reddit" in names and len(names) == len(set(names))
    assert params.ingest.selected == params.ingest.sources  # include: null = every source
    for source in params.ingest.sources:
        assert source.files and source.format
        assert all(f.sha256 == "sidecar" or len(f.sha256) == 64 for f in source.files)
        assert (source.repo is None) == source.optional  # every training source is pinned upstream
        assert set(source.labels.values()) <= {-1, 0, 1}
    assert 0 < params.clean.test_size < 1
    assert params.featurize.ngram_min <= params.featurize.ngram_max
    assert params.train.n_jobs >= 1
    assert set(params.gate.compare) <= {"overall", "reddit", "human"} | set(params.gate.floors)
    assert params.gate.source_tolerance is not None  # every source is watched by default
    with pytest.raises(Exception):  # noqa: B017 - frozen dataclass: FrozenInstanceError
        params.train.learning_rate = 1.0  # type: ignore[misc]


def test_flatten(raw):
    flat = flatten(raw)
    assert flat["train.learning_rate"] == raw["train"]["learning_rate"]
    assert flat["base.seed"] == raw["base"]["seed"]
    # lists of mappings are keyed by their name
    reddit = next(s for s in raw["ingest"]["sources"] if s["name"] == "reddit")
    assert flat["ingest.sources.reddit.weight"] == reddit["weight"]
    assert flat["gate.floors.human"] == raw["gate"]["floors"]["human"]
    assert flatten({"a": {"b": [1, 2]}, "c": None}) == {"a.b": [1, 2], "c": None}


def test_include_selects_sources(raw):
    raw = copy.deepcopy(raw)
    raw["ingest"]["include"] = ["reddit", "airline_tweets"]
    params = parse_params(raw)
    assert [s.name for s in params.ingest.selected] == ["reddit", "airline_tweets"]


def _broken(raw: dict, edit) -> dict:
    raw = copy.deepcopy(raw)
    edit(raw)
    return raw


@pytest.mark.parametrize(("edit", "named"), [
    (lambda r: r.pop("train"), "'train'"),
    (lambda r: r.pop("base"), "'base'"),
    (lambda r: r["train"].update(learning_rte=0.1), "learning_rte"),
    (lambda r: r["featurize"].pop("max_features"), "max_features"),
    (lambda r: r["ingest"]["sources"][0].update(colour="red"), "colour"),
    (lambda r: r["ingest"]["sources"][0].pop("format"), "format"),
    (lambda r: r["ingest"]["sources"][0]["files"][0].update(sha256="not-a-checksum"), "64 hex digits"),
    (lambda r: r["ingest"]["sources"][0]["files"][0].update(sha256="sidecar"), "64 hex digits"),
    (lambda r: r["ingest"]["sources"][0]["files"][0].update(colour="red"), "files[0]"),
    (lambda r: r["ingest"]["sources"][0].update(commit="e69ad84"), "full 40-hex-digit commit"),
    (lambda r: r["ingest"]["sources"][0].pop("commit"), "repo and commit go together"),
    (lambda r: r["ingest"]["sources"][6]["files"][0].pop("member_sha256"), "member and member_sha256"),
    (lambda r: r["ingest"]["sources"][1]["labels"].update({2: 2}), "semeval2013_2016"),
    (lambda r: r["ingest"]["sources"][2].update(name="reddit"), "unique"),
    (lambda r: r["ingest"].update(include=["reddit", "youtube_api"]), "ingest.include"),
    (lambda r: r["ingest"].update(include=[]), "ingest.include"),
    (lambda r: r["ingest"].update(sources=[]), "ingest.sources"),
    (lambda r: r["ingest"]["sources"][0].update(files=[]), "no files"),
    (lambda r: r["ingest"].update(mirrors="x"), "mirrors"),
    (lambda r: r["train"].update(validation_fraction=1.5), "train.validation_fraction"),
    (lambda r: r["clean"].update(test_size=0), "clean.test_size"),
    (lambda r: r["featurize"].update(link_augment=1), "featurize.link_augment"),
    (lambda r: r["train"].update(stack_folds=1), "train.stack_folds"),
    (lambda r: r["train"].update(word_nb_power=-0.1), "train.word_nb_power"),
    (lambda r: r["train"].update(learner="blend"), "train.learner must be stack or linear"),
    (lambda r: r.update(gate=[1, 2]), "'gate'"),
    (lambda r: r["gate"].update(source_tolerance=1.5), "gate.source_tolerance must be a number between 0 and 1"),
    (lambda r: r["gate"].update(source_tolerance=-0.01), "gate.source_tolerance must be"),
    (lambda r: r["gate"].update(source_tolerance="0.01"), "gate.source_tolerance must be"),
    (lambda r: r["gate"].update(source_tolerance=True), "gate.source_tolerance must be"),
    (lambda r: r["gate"].update(source_tolerances={"apple_tweets": 2}), "gate.source_tolerances.apple_tweets must be"),
    (lambda r: r["gate"].update(source_tolerances={"apple_tweet": 0.02}), "unknown source(s) ['apple_tweet']"),
    (lambda r: r["gate"].update(source_tolerances=[0.02]), "gate.source_tolerances must map source names"),
], ids=["missing-section", "missing-base", "unknown-key", "missing-key", "unknown-source-key",
        "missing-source-key", "bad-checksum", "sidecar-for-a-pinned-file", "unknown-file-key", "short-commit",
        "repo-without-commit", "member-without-sha256", "bad-label-target", "duplicate-source", "include-unknown",
        "include-empty", "no-sources", "no-files", "unknown-ingest-key", "validation-fraction", "test-size",
        "link-augment", "stack-folds", "word-nb-power", "old-learner",
        "section-not-mapping", "source-tolerance-above-1", "source-tolerance-below-0", "source-tolerance-string",
        "source-tolerance-bool", "source-override-above-1", "source-override-unknown", "source-overrides-list"])
def test_invalid_params_name_the_key(raw, edit, named):
    with pytest.raises(YtSentimentError) as err:
        parse_params(_broken(raw, edit))
    assert named in str(err.value)
    assert str(err.value).startswith("params:")


@pytest.mark.parametrize(("tolerance", "overrides"), [
    (0, {"apple_tweets": 1}), (1, {"apple_tweets": 0}), (None, {"apple_tweets": 0.02, "reddit": None}), (0.01, None),
])
def test_source_tolerances_accept_bounds_and_null(raw, tolerance, overrides):
    gate = parse_params(_broken(raw, lambda r: r["gate"].update(source_tolerance=tolerance,
                                                                source_tolerances=overrides))).gate
    assert gate.source_tolerance == tolerance
    assert gate.source_tolerances == (overrides or {})


def test_bad_label_target_says_what_is_allowed(raw):
    with pytest.raises(YtSentimentError, match=r"maps labels to \[2\]; targets must be -1, 0 or 1"):
        parse_params(_broken(raw, lambda r: r["ingest"]["sources"][0]["labels"].update({1: 2})))


def test_params_file_errors(tmp_path):
    with pytest.raises(YtSentimentError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(YtSentimentError, match="expected a mapping of sections"):
        load_params(listy)
