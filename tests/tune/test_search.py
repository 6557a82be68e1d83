"""`ytsentiment tune` end to end on a tiny clean-stage split: trials, nested MLflow runs, resumption, the latency rule.

The splits are shaped like the clean stage's output (text, clean_text, label, source, group, weight) from real
comments; the MLflow store and the Optuna database are temporary; LightGBM runs one thread (the machine is shared).
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from ytsentiment import cli
from ytsentiment.config import load_params
from ytsentiment.stages.clean import clean, split
from ytsentiment.tuning.space import current_values

REPO = Path(__file__).resolve().parents[2]
TRIAL_METRICS = {"objective", "test.human.macro_f1", "test.overall.macro_f1", "valid.human.macro_f1", "fit_seconds",
                 "predict_ms_per_100", "latency_ms", "best_iteration"}


@pytest.fixture(scope="module")
def splits(small_corpus, tmp_path_factory) -> dict[str, Path]:
    frame = small_corpus.assign(
        group=small_corpus["source"].map(lambda s: "reddit" if s == "reddit" else "human"),
        weight=small_corpus["source"].map(lambda s: 0.25 if s == "reddit" else 1.0),
    )
    train, test = split(clean(frame), 0.2, 42)
    root = tmp_path_factory.mktemp("interim")
    paths = {"train": root / "train.parquet", "test": root / "test.parquet"}
    train.to_parquet(paths["train"], index=False)
    test.to_parquet(paths["test"], index=False)
    return paths


@pytest.fixture(scope="module")
def tracking(tmp_path_factory):
    """A temporary MLflow store via MLFLOW_TRACKING_URI; env and mlflow's process-wide state restored after."""
    import mlflow.tracking._model_registry.utils as registry_utils
    import mlflow.tracking._tracking_service.utils as tracking_utils
    import mlflow.tracking.fluent as fluent

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    saved = tracking_utils._tracking_uri, registry_utils._registry_uri, fluent._active_experiment_id
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("MLFLOW_ARTIFACT_ROOT", (root / "artifacts").as_uri())
        mp.delenv("MLFLOW_EXPERIMENT_ID", raising=False)  # mlflow.set_experiment sets it: undone on exit
        try:
            yield uri
        finally:
            tracking_utils._tracking_uri, registry_utils._registry_uri, fluent._active_experiment_id = saved


def tune(args: list[str], splits, storage: str, capsys, caplog) -> tuple[int, str, str]:
    """Run the verb in-process; returns (exit code, stdout, the log: where an error's message goes)."""
    caplog.clear()
    rc = cli.main(["tune", "--train", str(splits["train"]), "--test", str(splits["test"]), "--rows", "2000",
                   "--test-rows", "600", "--threads", "1", "--storage", storage, *args])
    return rc, capsys.readouterr().out, caplog.text


# The LightGBM half's knobs: the search space of a study over the stack (train.learner stack).
BOOSTED_SPACE = {
    "featurize.max_features": {"low": 5000, "high": 50000, "log": True},
    "train.learning_rate": {"low": 0.05, "high": 0.3, "log": True},
    "train.num_leaves": {"low": 15, "high": 255, "log": True},
    "train.class_weight": {"choices": ["balanced", None]},
}


def params_with(tmp_path: Path, boosted: bool = True, **gate) -> Path:
    """The repo's params.yaml; with ``boosted``, a study over LightGBM (stacked on the logistic regression, no
    character n-grams) so that rounds are reported and pruned; else the logistic regression alone (fast)."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    raw["train"]["n_estimators"] = 150  # fewer rounds: the tiny corpus stops early anyway
    raw["train"]["learner"] = "stack" if boosted else "linear"
    if boosted:
        raw["train"]["linear_weight"] = 0.3
        raw["featurize"].update(max_features=20000, char_features=0)
        raw["tune"]["space"] = BOOSTED_SPACE
    raw["gate"].update(gate)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def runs_of(tracking_uri: str, experiment: str):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no MLflow experiment {experiment}"
    runs = client.search_runs([exp.experiment_id], max_results=100)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parents, children


def test_search_logs_nested_runs_resumes_the_study_and_prints_an_adoptable_line(splits, tracking, tmp_path, capsys,
                                                                                caplog):
    params_file = params_with(tmp_path)
    storage = f"sqlite:///{tmp_path / 'var' / 'optuna.db'}"  # var/ does not exist yet: tune creates it
    common = ["--params", str(params_file), "--study-name", "tiny"]

    rc, out, _ = tune([*common, "--trials", "2", "--timeout", "600"], splits, storage, capsys, caplog)
    assert rc == 0
    rc, out, _ = tune([*common, "--trials", "1"], splits, storage, capsys, caplog)
    assert rc == 0

    # one study, resumed: the second invocation added its trial to the first one's two
    assert [s.study_name for s in optuna.get_all_study_summaries(storage)] == ["tiny"]
    study = optuna.load_study(study_name="tiny", storage=storage)
    trials = study.get_trials()
    assert [t.number for t in trials] == [0, 1, 2]
    params = load_params(params_file)
    settings = params.tune
    space = settings.space
    assert settings.prune_after_trials >= 3  # so no round pruning yet: every trial runs to its end
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    assert trials[0].user_attrs["baseline"] is True
    assert trials[0].user_attrs["params"] == current_values(params, space)
    assert trials[2].user_attrs["params"] != trials[1].user_attrs["params"]  # resumed with a new seed: no repeat
    for t in trials:  # LightGBM reported the macro-F1 of its early-stopping slice every 10 rounds
        assert t.intermediate_values and all(step % 10 == 0 and 0 < v <= 1 for step, v in t.intermediate_values.items())
        assert 0 < t.value <= 1 and t.value == t.user_attrs["valid.human.macro_f1"]
    best = max(trials, key=lambda t: t.value)

    # MLflow: one parent run for the study (reopened by the second invocation), one nested run per trial
    parents, children = runs_of(tracking, "ytsentiment-tune")
    assert len(parents) == 1 and len(children) == 3
    parent = parents[0]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert study.user_attrs["mlflow_run_id"] == parent.info.run_id
    by_trial = {int(c.data.tags["optuna.trial"]): c for c in children}
    assert sorted(by_trial) == [0, 1, 2]
    for t in trials:
        run = by_trial[t.number]
        assert run.info.status == "FINISHED" and run.data.tags["optuna.state"] == "COMPLETE"
        assert run.data.params == {k: "null" if v is None else str(v) for k, v in t.user_attrs["params"].items()}
        assert TRIAL_METRICS <= set(run.data.metrics)
        assert run.data.metrics["objective"] == pytest.approx(t.value)
        assert run.data.metrics["predict_ms_per_100"] > 0 and run.data.metrics["fit_seconds"] > 0
    assert parent.data.metrics["best.objective"] == pytest.approx(best.value)

    # the printed best trial and the line that adopts it, read back by DVC's own -S parser
    assert f"best trial #{best.number}: objective {best.value:.4f}" in out
    assert "params.yaml now (trial #0)" in out
    line = re.search(r"^\s+(dvc exp run .*)$", out, re.M).group(1)
    assert parent.data.tags["dvc_exp_run"] == line
    adopted = tmp_path / "adopted.yaml"
    shutil.copy(params_file, adopted)
    from dvc.utils.hydra import apply_overrides  # what `dvc exp run -S` does to params.yaml

    apply_overrides(adopted, shlex.split(line)[4::2])
    assert current_values(load_params(adopted), space) == best.user_attrs["params"]

    # the same study on another subsample is refused, and gains no trial
    rc, _, err = tune([*common, "--trials", "1", "--rows", "1500"], splits, storage, capsys, caplog)
    assert rc == 2 and "other data or settings" in err and "'rows': (2000, 1500)" in err
    assert len(optuna.load_study(study_name="tiny", storage=storage).trials) == 3


def test_a_trial_over_the_latency_budget_is_pruned(splits, tracking, tmp_path, capsys, caplog):
    params_file = params_with(tmp_path, latency_budget_ms=0.01)  # no model answers 100 comments in 10 µs
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    rc, out, err = tune(["--params", str(params_file), "--study-name", "slow", "--trials", "1", "--rows", "800",
                         "--test-rows", "200"], splits, storage, capsys, caplog)
    assert rc == 2 and "no trial of study 'slow' completed" in err
    [trial] = optuna.load_study(study_name="slow", storage=storage).get_trials()
    assert trial.state == TrialState.PRUNED
    assert trial.user_attrs["pruned"] == "latency" and trial.user_attrs["latency_ms"] > 0.01
    assert "> budget 0.01 ms (gate.latency_budget_ms)" in trial.user_attrs["pruned_reason"]
    assert "1 pruned (1 over the latency budget)" in out
    _, children = runs_of(tracking, "ytsentiment-tune")
    [run] = [c for c in children if c.data.tags["optuna.study"] == "slow"]
    assert run.info.status == "KILLED" and run.data.tags["optuna.state"] == "PRUNED"
    assert "objective" not in run.data.metrics and run.data.metrics["predict_ms_per_100"] > 0


def test_a_study_of_the_linear_learner_fits_the_logistic_regression_alone(splits, tracking, tmp_path, capsys, caplog):
    params_file = params_with(tmp_path, boosted=False)
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    rc, out, err = tune(["--params", str(params_file), "--study-name", "linear", "--trials", "2"], splits, storage,
                        capsys, caplog)
    assert rc == 0, err
    trials = optuna.load_study(study_name="linear", storage=storage).get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
    params = load_params(params_file)
    assert trials[0].user_attrs["params"] == current_values(params, params.tune.space)
    for t in trials:  # no boosting rounds to report: the trial is scored once, on the validation slice
        assert not t.intermediate_values and "best_iteration" not in t.user_attrs
        assert 1 <= t.user_attrs["linear_epochs"] <= params.train.linear_max_iter
        assert 0 < t.value <= 1 and t.value == t.user_attrs["valid.human.macro_f1"]
    assert re.search(r"fit \d+\.\d s, \d+ epochs", out)
    _, children = runs_of(tracking, "ytsentiment-tune")
    linear = [c for c in children if c.data.tags["optuna.study"] == "linear"]
    assert sorted(c.data.tags["optuna.trial"] for c in linear) == ["0", "1"]


def test_missing_split_says_how_to_make_it(tmp_path, caplog):
    rc = cli.main(["tune", "--train", str(tmp_path / "none.parquet"), "--test", str(tmp_path / "none.parquet"),
                   "--storage", f"sqlite:///{tmp_path / 'o.db'}"])
    assert rc == 2 and "none.parquet not found: run `make repro`" in caplog.text


@pytest.mark.parametrize("share", [0.0, 0.3])
def test_a_trial_fits_on_the_comments_with_the_featurize_stages_links(share):
    """The features a trial fits read the links the featurize stage adds (its word vocabulary learns "url")."""
    import dataclasses

    import pandas as pd

    from ytsentiment.tuning.search import fit_pipeline

    params = load_params(REPO / "params.yaml")
    words = ["great", "awful", "fine", "video", "song", "boring", "love", "hate"]
    frame = pd.DataFrame({"text": [f"{words[i % 8]} {words[(i * 3) % 8]} number {i}" for i in range(300)],
                          "label": [(-1, 0, 1)[i % 3] for i in range(300)], "source": "s", "weight": 1.0})
    featurize = dataclasses.replace(params.featurize, link_augment=share, char_features=0, min_df=1)
    train = dataclasses.replace(params.train, learner="linear")
    pipeline, _ = fit_pipeline(frame, featurize, train, params.seed)
    vocabulary = pipeline.named_steps["features"].transformer_list[-1][1].named_steps["tfidf"].vocabulary_
    assert ("url" in vocabulary) == bool(share)
