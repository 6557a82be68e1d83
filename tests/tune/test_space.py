"""The search space, the values -> params mapping, the dvc line (checked with DVC's own -S parser), the pruning
callback and the stratified subsample: no training here."""

from __future__ import annotations

import dataclasses
import shlex
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml

from ytsentiment import YtSentimentError
from ytsentiment.config import load_params, parse_params
from ytsentiment.tuning.search import pruning_callback, subsample
from ytsentiment.tuning.space import (
    apply,
    current_values,
    dvc_exp_run_line,
    format_value,
    round_value,
    suggest,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def params():
    return load_params(REPO / "params.yaml")


def with_space(raw: dict, space: dict) -> dict:
    return {**raw, "tune": {**raw["tune"], "space": space}}


def test_repo_space_names_params_yaml_keys_and_holds_its_current_values(params):
    tune = params.tune
    # the default model is the logistic regression: the space holds its knobs and its features'
    assert {k.key for k in tune.space} >= {"featurize.max_features", "featurize.ngram_max", "featurize.min_df",
                                          "featurize.sublinear_tf", "featurize.char_features",
                                          "featurize.char_ngram_max", "train.linear_c", "train.class_weight"}
    for knob in tune.space:  # the key exists in params.yaml itself, so `-S key=...` needs no `+`
        section, name = knob.key.split(".")
        assert name in params.raw[section], knob.key
    defaults = current_values(params, tune.space)
    assert defaults["train.linear_c"] == params.raw["train"]["linear_c"]
    assert all(k.contains(defaults[k.key]) for k in tune.space), "a new study could not run the baseline trial"


@pytest.mark.parametrize(("space", "message"), [
    ({"train.learning_rat": {"low": 0.1, "high": 0.2}}, "train.learning_rat"),
    ({"ingest.include": {"choices": [None]}}, "ingest.include"),
    ({"train.num_leaves": {"low": 63, "high": 15}}, "low < high"),
    ({"train.reg_lambda": {"low": 0, "high": 1.0, "log": True}}, "low > 0"),
    ({"train.reg_lambda": {"low": 0.00001, "high": 1.0, "log": True}}, "below 0.0001"),
    ({"train.num_leaves": {"low": 15, "hi": 63}}, "got keys"),
    ({"train.max_bin": {"choices": []}}, "non-empty list"),
    ({}, "non-empty `space:`"),
])
def test_bad_space_is_refused_with_the_key_named(params, space, message):
    with pytest.raises(YtSentimentError, match=message.replace("`", ".").replace("(", r"\(")):
        parse_params(with_space(params.raw, space))


def test_unknown_tune_setting_is_refused(params):
    with pytest.raises(YtSentimentError, match="unknown keys \\['trails'\\]"):
        parse_params({**params.raw, "tune": {**params.raw["tune"], "trails": 3}})


def test_integer_bounds_give_an_integer_knob_float_bounds_a_float_one(params):
    tune = parse_params(with_space(params.raw, {"featurize.max_features": {"low": 5000, "high": 50000},
                                                "train.reg_lambda": {"low": 1, "high": 10.0, "log": True}})).tune
    assert [k.integer for k in tune.space] == [True, False]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    features, reg = (suggest(k, trial) for k in tune.space)
    assert isinstance(features, int) and 5000 <= features <= 50000
    assert isinstance(reg, float) and reg == float(f"{reg:.3g}")  # rounded before use


@pytest.mark.parametrize(("value", "expected"), [
    (0.123456, 0.123), (0.0123456, 0.0123), (7.891, 7.89), (2.0, 2.0), (123456.7, 123000.0),
    (30000, 30000), (True, True), (None, None), ("balanced", "balanced"),
])
def test_round_value_keeps_three_significant_digits_of_floats_only(value, expected):
    assert round_value(value) == expected and type(round_value(value)) is type(expected)


def test_dvc_line_is_exactly_what_a_person_would_type():
    values = {"train.learning_rate": 0.12, "featurize.max_features": 30000, "train.class_weight": None,
              "featurize.sublinear_tf": False, "train.reg_lambda": 1e-05, "train.subsample": 10.0}
    assert dvc_exp_run_line(values) == (
        "dvc exp run -S train.learning_rate=0.12 -S featurize.max_features=30000 -S train.class_weight=null "
        "-S featurize.sublinear_tf=false -S train.reg_lambda=0.00001 -S train.subsample=10.0")
    assert format_value("balanced") == "balanced"


def apply_dvc_line(line: str, params_file: Path) -> None:
    """What `dvc exp run -S ...` does to params.yaml: DVC's own override parser (Hydra grammar, struct mode)."""
    from dvc.utils.hydra import apply_overrides

    words = shlex.split(line)
    assert words[:3] == ["dvc", "exp", "run"] and words[3::2] == ["-S"] * len(words[3::2])
    apply_overrides(params_file, words[4::2])


def test_dvc_line_round_trips_through_dvcs_parser(tmp_path):
    values = {"featurize.max_features": 30000, "featurize.sublinear_tf": False, "train.learning_rate": 0.12,
              "train.reg_lambda": 0.0001, "train.class_weight": None, "train.max_bin": 31}
    params_file = tmp_path / "params.yaml"
    shutil.copy(REPO / "params.yaml", params_file)
    apply_dvc_line(dvc_exp_run_line(values), params_file)
    raw = yaml.safe_load(params_file.read_text())
    got = {key: raw[key.split(".")[0]][key.split(".")[1]] for key in values}
    assert got == values and [type(v) for v in got.values()] == [type(v) for v in values.values()]
    load_params(params_file)  # still valid params


def test_dvcs_parser_refuses_a_key_params_yaml_lacks(tmp_path):
    """The oracle above can fail: a misspelt key is an error, not a silently added one."""
    from dvc.exceptions import InvalidArgumentError

    params_file = tmp_path / "params.yaml"
    shutil.copy(REPO / "params.yaml", params_file)
    with pytest.raises(InvalidArgumentError):
        apply_dvc_line("dvc exp run -S train.learnin_rate=0.1", params_file)


def test_apply_puts_trial_values_into_the_stage_params(params):
    featurize, train = apply(params, {"featurize.max_features": 1234, "train.class_weight": None,
                                      "train.learning_rate": 0.05})
    assert (featurize.max_features, train.class_weight, train.learning_rate) == (1234, None, 0.05)
    assert featurize.ngram_min == params.featurize.ngram_min and train.num_leaves == params.train.num_leaves
    with pytest.raises(YtSentimentError, match="ngram_max"):
        apply(dataclasses.replace(params, featurize=dataclasses.replace(params.featurize, ngram_min=2)),
              {"featurize.ngram_max": 1})


class FakeTrial:
    def __init__(self, prune: bool):
        self.reports, self.prune, self.user_attrs = [], prune, {}

    def report(self, value, step):
        self.reports.append((step, value))

    def should_prune(self):
        return self.prune

    def set_user_attr(self, key, value):
        self.user_attrs[key] = value


class FakeBooster:
    """LightGBM's view of the early-stopping slice: probabilities for its 5 rows (columns: classes -1, 0, 1)."""

    preds = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.1, 0.1, 0.8], [0.9, 0.0, 0.1]])

    def __init__(self):
        self.calls = 0

    def eval_valid(self, feval):
        self.calls += 1
        return [("valid_0", "multi_logloss", 0.7, False), ("valid_0", *feval(self.preds, None))]


def test_pruning_callback_reports_macro_f1_of_the_objective_rows_every_n_rounds_and_prunes():
    # early-stopping slice: row 4 is Reddit (not the objective's rows); human rows 0..3 are labelled -1, 0, 1, 0
    frame_val = pd.DataFrame({"label": [-1, 0, 1, 0, 1], "group": ["human"] * 4 + ["reddit"]})
    booster = FakeBooster()
    trial = FakeTrial(prune=False)
    callback = pruning_callback(trial, 10, frame_val, np.array([-1, 0, 1]), "human")
    for i in range(25):
        callback(SimpleNamespace(iteration=i, model=booster))
    # predicted -1, 0, 1, 1 vs -1, 0, 1, 0: F1 -1 = 1, 0 = 2/3 (P 1, R 1/2), 1 = 2/3 (P 1/2, R 1) -> macro 7/9
    assert [(step, round(f1, 6)) for step, f1 in trial.reports] == [(10, round(7 / 9, 6)), (20, round(7 / 9, 6))]
    assert booster.calls == 2  # evaluated at rounds 10 and 20 only
    assert callback.order < 30  # runs before LightGBM's early stopping

    trial = FakeTrial(prune=True)
    pruned = pruning_callback(trial, 10, frame_val, np.array([-1, 0, 1]), "overall")
    pruned(SimpleNamespace(iteration=8, model=booster))  # round 9: nothing reported, nothing decided
    assert trial.reports == []
    with pytest.raises(optuna.TrialPruned, match="round 10: macro-F1 0.6111"):
        # overall adds row 4 (label 1, predicted -1): -1 P 1/2 R 1 -> 2/3; 0 -> 2/3; 1 P 1/2 R 1/2 -> 1/2: 11/18
        pruned(SimpleNamespace(iteration=9, model=booster))
    assert trial.user_attrs["pruned_round"] == 10


@pytest.mark.filterwarnings("ignore:The argument 'eval_set' is deprecated")  # as stages.train: eval_X breaks -1/0/1
def test_pruning_callback_reads_lightgbms_own_predictions_of_the_slice():
    """On a real LightGBM fit, the reported macro-F1 is that of predict() on the slice's rows at that round."""
    import lightgbm as lgb
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 5))
    y = np.select([X[:, 0] > 0.5, X[:, 0] < -0.5], [1, -1], 0)
    y = np.where(rng.random(600) < 0.2, rng.choice([-1, 0, 1], 600), y)  # noise: F1 moves between rounds
    frame_val = pd.DataFrame({"label": y[400:], "group": np.where(np.arange(200) % 3, "human", "reddit")})
    trial = FakeTrial(prune=False)
    clf = lgb.LGBMClassifier(n_estimators=30, learning_rate=0.05, num_leaves=4, verbose=-1, n_jobs=1)
    clf.fit(X[:400], y[:400], eval_set=[(X[400:], y[400:])],
            callbacks=[pruning_callback(trial, 10, frame_val, np.array([-1, 0, 1]), "human")])
    human = (frame_val["group"] == "human").to_numpy()
    expected = [(step, f1_score(y[400:][human], clf.predict(X[400:][human], num_iteration=step), average="macro"))
                for step in (10, 20, 30)]
    assert [s for s, _ in trial.reports] == [10, 20, 30]
    assert [f for _, f in trial.reports] == pytest.approx([f for _, f in expected])


def test_subsample_is_stratified_by_source_and_label_and_seeded():
    frame = pd.DataFrame([{"text": f"t{s}{lab}{i}", "label": lab, "source": s, "group": "g", "weight": 1.0}
                          for s in ("a", "b") for lab in (-1, 0, 1) for i in range(100)])
    picked = subsample(frame, 60, seed=3)
    assert len(picked) == 60
    assert picked.groupby(["source", "label"]).size().tolist() == [10] * 6
    assert picked.equals(subsample(frame, 60, seed=3)) and not picked.equals(subsample(frame, 60, seed=4))
    assert len(subsample(frame, 10_000, seed=3)) == 600
