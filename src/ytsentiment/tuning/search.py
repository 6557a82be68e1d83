"""One trial and the resumable study: what ``ytsentiment tune`` runs.

Data: a seeded, stratified (source × label) subsample of the clean stage's train split, cut into the rows a trial
fits on and a validation slice the objective scores (macro-F1 on ``tune.objective``, e.g. the human-labelled rows),
plus a subsample of the test split whose human and overall macro-F1 are reported, never optimised.

A trial fits exactly what the pipeline fits and joins it into the served Pipeline: ``build_features`` (on the
comments with the featurize stage's added links), then the train stage's classifier, by the train stage's own
``fit``. With ``train.learner`` "stack" (the default), LightGBM fits with the train stage's early stopping on its
held-out slice (stacked on the logistic regression, averaged with it and calibrated as the stage does), and every
``tune.report_every`` rounds a LightGBM callback reports the macro-F1 of the boosting so far on the early-stopping
slice's objective rows (``trial.report``); a percentile pruner stops a fit that trails earlier trials at the same
round (``tune.prune_*``; multi_logloss was tried and dropped: on these data it ranked trials unlike macro-F1). The
served Pipeline is then timed in-process, one thread, like the gate (``gate.latency_comments`` comments): over
``gate.latency_budget_ms`` the trial is pruned, so the search cannot buy F1 with latency.

The study lives in a database (``--storage``, resumable by name) and seeds TPE with ``base.seed`` + the number of
trials it already holds, so a second run continues instead of repeating the first one's samples. A new study first
runs params.yaml's current values (the baseline trial). MLflow: one parent run per study (reopened on resume), one
nested run per trial with its params, objective, test macro-F1, fit time and latency.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ytsentiment import YtSentimentError
from ytsentiment.config import FeaturizeParams, Params, TrainParams, TuneParams
from ytsentiment.contract import TEXT_COLUMN
from ytsentiment.gate import latency_ms as gate_latency_ms
from ytsentiment.io import file_digest
from ytsentiment.model import build_features, compose, slim
from ytsentiment.scoring import OVERALL, headline_scopes, score_by_scope, scores
from ytsentiment.splits import strata_of, stratified_split
from ytsentiment.stages.featurize import with_links
from ytsentiment.stages.train import fit
from ytsentiment.tracking import use_experiment
from ytsentiment.tuning.space import apply, current_values, dvc_exp_run_line, suggest

log = logging.getLogger(__name__)

COLUMNS = (TEXT_COLUMN, "label", "source", "group", "weight")
BASELINE = "baseline"  # user attr of the trial that ran params.yaml's current values
LATENCY = "latency"
MakeCallbacks = Callable[..., list]


@dataclass(frozen=True)
class TuneData:
    train: pd.DataFrame  # a trial fits here (the train stage's early-stopping slice is cut from it)
    valid: pd.DataFrame  # the objective scores here
    test: pd.DataFrame   # reported only
    settings: dict[str, Any]  # what the subsample depends on: a resumed study must have the same


def read_split(path: str | Path) -> pd.DataFrame:
    if not Path(path).is_file():
        raise YtSentimentError(f"{path} not found: run `make repro` (the clean stage writes data/interim/*.parquet) "
                               "or pass --train/--test")
    frame = pd.read_parquet(path)
    missing = sorted(set(COLUMNS) - set(frame.columns))
    if missing:
        raise YtSentimentError(f"{path}: missing columns {missing}; expected the clean stage's {list(COLUMNS)}")
    return frame.reset_index(drop=True)


def subsample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """About ``rows`` rows, stratified by source and label and seeded (all rows when there are fewer)."""
    if rows >= len(frame):
        return frame.reset_index(drop=True)
    _, picked = stratified_split(strata_of(frame), rows / len(frame), seed)
    return frame.iloc[picked].reset_index(drop=True)


def load_data(train_path: str | Path, test_path: str | Path, tune: TuneParams, seed: int) -> TuneData:
    sample = subsample(read_split(train_path), tune.rows, seed)
    fit_rows, valid_rows = stratified_split(strata_of(sample), tune.validation_fraction, seed)
    data = TuneData(
        train=sample.iloc[fit_rows].reset_index(drop=True),
        valid=sample.iloc[valid_rows].reset_index(drop=True),
        test=subsample(read_split(test_path), tune.test_rows, seed),
        settings={"rows": tune.rows, "test_rows": tune.test_rows, "validation_fraction": tune.validation_fraction,
                  "objective": tune.objective, "seed": seed,
                  "train_md5": file_digest(train_path, "md5"), "test_md5": file_digest(test_path, "md5")},
    )
    if tune.objective != "overall" and not (data.valid["group"] == tune.objective).any():
        groups = sorted(data.valid["group"].unique())
        raise YtSentimentError(f"tune.objective '{tune.objective}': the validation slice has no such group "
                               f"(it has {groups}); set it to overall or one of them")
    log.info("subsample: fit %d rows, validation %d, test %d", len(data.train), len(data.valid), len(data.test))
    return data


# ---- one trial ---------------------------------------------------------------------------------------------------


def fit_pipeline(frame: pd.DataFrame, featurize: FeaturizeParams, train: TrainParams, seed: int,
                 make_callbacks: MakeCallbacks | None = None):
    """The served Pipeline (features + classifier) fitted on ``frame``; returns (pipeline, facts)."""
    started = time.perf_counter()
    features = build_features(featurize)
    X = features.fit_transform(with_links(frame[[TEXT_COLUMN]], featurize.link_augment, seed)).tocsr()
    clf, facts, _ = fit(X, frame, featurize, train, seed, make_callbacks)  # the train stage's own fit, with the pruning
    facts["fit_seconds"] = round(time.perf_counter() - started, 2)
    return compose(slim(features), clf), facts


def scope_mask(frame: pd.DataFrame, scope: str) -> np.ndarray:
    return np.ones(len(frame), dtype=bool) if scope == OVERALL else (frame["group"] == scope).to_numpy()


def pruning_callback(trial, report_every: int, frame_val: pd.DataFrame, classes, scope: str) -> Callable:
    """A LightGBM callback: every ``report_every`` rounds, report the macro-F1 of the boosting so far on the
    early-stopping slice's ``scope`` rows (the objective's measure, on rows the objective never sees) and stop the
    fit when the pruner says this trial trails the earlier ones at that round.

    The slice's predictions are the ones LightGBM keeps up to date for its own validation metric
    (``Booster.eval_valid``): a fresh ``Booster.predict`` every few rounds would cost many times the whole fit.
    """
    import optuna

    mask = scope_mask(frame_val, scope)
    y_scope = frame_val["label"].to_numpy()[mask]
    classes = np.asarray(classes)  # column i of LightGBM's probabilities is classes[i]

    def macro_f1_of(preds, _dataset):
        return "macro_f1", scores(y_scope, classes[np.argmax(preds[mask], axis=1)])["macro_f1"], True

    def callback(env) -> None:
        step = env.iteration + 1
        if step % report_every or not mask.any():
            return
        f1 = next(value for _, name, value, _ in env.model.eval_valid(feval=macro_f1_of) if name == "macro_f1")
        trial.report(f1, step)
        if trial.should_prune():
            trial.set_user_attr("pruned_round", step)
            raise optuna.TrialPruned(f"round {step}: macro-F1 {f1:.4f} on the early-stopping slice trails "
                                     "earlier trials at that round")

    # before early stopping (30): a pruned fit stops at once. LightGBM orders callbacks by this function
    # attribute, which a Callable type cannot declare.
    callback.order = 20  # type: ignore[attr-defined]
    return callback


def latency_ms(pipeline, comments: int) -> float:
    """The gate's measure (median in-process predict_proba of ``comments`` comments) with one LightGBM thread, as
    each serving worker runs it."""
    keys = [k for k in pipeline.get_params(deep=True) if k == "n_jobs" or k.endswith("__n_jobs")]
    pipeline.set_params(**dict.fromkeys(keys, 1))
    return gate_latency_ms(pipeline, comments)


def macro_f1(frame: pd.DataFrame, predicted) -> dict[str, float]:
    by_scope = score_by_scope(frame, predicted)
    return {scope: by_scope[scope]["macro_f1"] for scope in headline_scopes(by_scope)}


def run_trial(trial, values: dict[str, Any], params: Params, tune: TuneParams, data: TuneData,
              metrics: dict[str, float]) -> float:
    """Fit, time, score one set of values; fills ``metrics`` as it goes (a pruned trial keeps what it measured)."""
    import optuna

    featurize, train = apply(params, values)
    pipeline, facts = fit_pipeline(
        data.train, featurize, train, params.seed,
        lambda frame_val, classes: [pruning_callback(trial, tune.report_every, frame_val, classes, tune.objective)])
    metrics.update(fit_seconds=facts["fit_seconds"], features=facts["features"],
                   **{k: facts[k] for k in ("best_iteration", "linear_epochs") if k in facts})
    gate = params.gate
    ms = latency_ms(pipeline, gate.latency_comments)
    metrics.update(latency_ms=round(ms, 2), predict_ms_per_100=round(ms * 100 / gate.latency_comments, 2))
    if ms > gate.latency_budget_ms:
        trial.set_user_attr("pruned", LATENCY)
        raise optuna.TrialPruned(f"latency {ms:.1f} ms for {gate.latency_comments} comments > budget "
                                 f"{gate.latency_budget_ms} ms (gate.latency_budget_ms)")
    for name, frame in (("valid", data.valid), ("test", data.test)):
        metrics.update({f"{name}.{scope}.macro_f1": round(f1, 4)
                        for scope, f1 in macro_f1(frame, pipeline.predict(frame[[TEXT_COLUMN]])).items()})
    metrics["objective"] = metrics[f"valid.{tune.objective}.macro_f1"]
    return metrics["objective"]


# ---- the study ---------------------------------------------------------------------------------------------------


def redact(storage: str) -> str:
    """A storage URL fit for logs and MLflow: no password."""
    from sqlalchemy.engine import make_url

    return make_url(storage).render_as_string(hide_password=True)


def _prepare_storage(storage: str) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(storage)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def open_study(storage: str, name: str, params: Params, tune: TuneParams, settings: dict[str, Any]):
    """Create the study, or load it when it exists (then the data settings must match what it was run on)."""
    import optuna

    _prepare_storage(storage)
    study = optuna.create_study(storage=storage, study_name=name, direction="maximize", load_if_exists=True,
                                pruner=optuna.pruners.PercentilePruner(
                                    tune.prune_percentile, n_startup_trials=tune.prune_after_trials,
                                    n_warmup_steps=tune.prune_warmup_rounds, n_min_trials=tune.prune_after_trials))
    recorded = study.user_attrs.get("data")
    if recorded is None:
        study.set_user_attr("data", settings)
    elif recorded != settings:
        changed = {k: (recorded.get(k), settings.get(k)) for k in settings if recorded.get(k) != settings.get(k)}
        raise YtSentimentError(f"study '{name}' was run on other data or settings ({changed}, as (then, now)): "
                               "run it with the same ones, or start another with --study-name")
    done = len(study.trials)
    # Seeded, and offset by what the study holds: a resumed run continues instead of repeating the first samples.
    study.sampler = optuna.samplers.TPESampler(seed=params.seed + done, n_startup_trials=tune.startup_trials)
    if done == 0:
        defaults = current_values(params, tune.space)
        outside = [k.key for k in tune.space if not k.contains(defaults[k.key])]
        if outside:
            log.warning("params.yaml's values of %s lie outside tune.space: no baseline trial", outside)
        else:
            study.enqueue_trial(defaults, user_attrs={BASELINE: True})
    log.info("study '%s' in %s: %d trials so far", name, redact(storage), done)
    return study


def _parent_run(study, experiment: str, storage: str, settings: dict[str, Any], tune: TuneParams):
    """Start (or reopen) the study's one MLflow parent run."""
    import mlflow

    experiment_id = use_experiment(experiment)
    run_id = study.user_attrs.get("mlflow_run_id")
    if run_id is not None:
        try:
            if mlflow.get_run(run_id).info.experiment_id == experiment_id:
                return mlflow.start_run(run_id=run_id)
        except mlflow.exceptions.MlflowException:
            pass  # another tracking store than last time: this one gets its own parent run
    run = mlflow.start_run(run_name=f"study-{study.study_name}")
    study.set_user_attr("mlflow_run_id", run.info.run_id)
    mlflow.log_params({"study": study.study_name, "storage": redact(storage), **settings,
                       **{f"space.{k.key}": (list(k.choices) if k.choices is not None
                                             else f"{k.low}..{k.high}{' log' if k.log else ''}")
                          for k in tune.space}})
    return run


def _objective(params: Params, tune: TuneParams, data: TuneData):
    import mlflow
    import optuna

    def objective(trial) -> float:
        values = {k.key: suggest(k, trial) for k in tune.space}
        trial.set_user_attr("params", values)
        metrics: dict[str, float] = {}
        status, state = "FAILED", "FAIL"
        mlflow.start_run(run_name=f"trial-{trial.number}", nested=True)
        try:
            mlflow.log_params({k: "null" if v is None else v for k, v in values.items()})
            mlflow.set_tags({"optuna.study": trial.study.study_name, "optuna.trial": trial.number,
                             BASELINE: str(bool(trial.user_attrs.get(BASELINE)))})
            value = run_trial(trial, values, params, tune, data, metrics)
            status, state = "FINISHED", "COMPLETE"
            return value
        except optuna.TrialPruned as exc:
            status, state = "KILLED", "PRUNED"
            mlflow.set_tag("pruned_reason", str(exc))
            trial.set_user_attr("pruned_reason", str(exc))
            attrs = trial.user_attrs
            trial.set_user_attr("pruned", attrs.get("pruned", "rounds"))
            if "pruned_round" in attrs:
                metrics["pruned_round"] = attrs["pruned_round"]
            raise
        finally:
            for key, val in metrics.items():
                trial.set_user_attr(key, val)
            mlflow.log_metrics(metrics)
            mlflow.set_tag("optuna.state", state)
            mlflow.end_run(status)
            log.info("trial %d %s: %s %s%s", trial.number, state.lower(), values,
                     {k: v for k, v in metrics.items() if k in SHOWN},
                     f" ({trial.user_attrs['pruned_reason']})" if state == "PRUNED" else "")

    return objective


SHOWN = ("objective", "test.human.macro_f1", "test.overall.macro_f1", "predict_ms_per_100", "fit_seconds")


def search(params: Params, tune: TuneParams, data: TuneData, storage: str, study_name: str,
           trials: int | None, timeout: float | None):
    """Run up to ``trials`` more trials (or until ``timeout`` seconds) in the named study; returns the study."""
    import mlflow

    study = open_study(storage, study_name, params, tune, data.settings)
    with _parent_run(study, tune.experiment, storage, data.settings, tune):
        study.optimize(_objective(params, tune, data), n_trials=trials, timeout=timeout)
        result = outcome(study)
        if result["best"] is not None:
            best = result["best"]
            mlflow.log_metrics({f"best.{k}": v for k, v in best.user_attrs.items() if k in SHOWN})
            mlflow.set_tags({"best_trial": best.number, "dvc_exp_run": dvc_exp_run_line(best.user_attrs["params"])})
        mlflow.log_metrics({f"trials.{state}": n for state, n in result["counts"].items()})
    return study


def outcome(study) -> dict[str, Any]:
    """The best complete trial, the baseline trial (if complete) and the trial counts by state."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    counts = {state.name.lower(): sum(t.state == state for t in trials)
              for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
    counts["pruned_latency"] = sum(t.user_attrs.get("pruned") == LATENCY for t in trials)
    return {
        "best": max(complete, key=lambda t: t.value) if complete else None,
        "baseline": next((t for t in complete if t.user_attrs.get(BASELINE)), None),
        "counts": counts, "total": len(trials),
    }


def _figures(trial) -> str:
    a = trial.user_attrs
    test = ", ".join(f"{scope} {a[f'test.{scope}.macro_f1']:.4f}" for scope in ("human", "overall")
                     if f"test.{scope}.macro_f1" in a)
    return (f"objective {trial.value:.4f}; test macro-F1 {test}; {a['predict_ms_per_100']:.1f} ms per 100 comments; "
            f"fit {a['fit_seconds']:.1f} s, " + (f"{a['best_iteration']} rounds" if "best_iteration" in a
                                                 else f"{a.get('linear_epochs', '?')} epochs"))


def format_outcome(study, storage: str, objective: str) -> str:
    """What a person reads after a search: counts, best vs baseline, and the line that adopts the best."""
    result = outcome(study)
    c = result["counts"]
    lines = [f"study '{study.study_name}' ({redact(storage)}): {result['total']} trials, {c['complete']} complete, "
             f"{c['pruned']} pruned ({c['pruned_latency']} over the latency budget), {c['fail']} failed"]
    best = result["best"]
    if best is None:
        reasons = sorted({t.user_attrs["pruned_reason"] for t in study.get_trials(deepcopy=False)
                          if "pruned_reason" in t.user_attrs})
        return "\n".join(lines + [f"  pruned: {reason}" for reason in reasons[:5]])
    lines.append(f"objective: validation macro-F1 on '{objective}' rows")
    lines.append(f"best trial #{best.number}: {_figures(best)}")
    if result["baseline"] is not None:
        lines.append(f"params.yaml now (trial #{result['baseline'].number}): {_figures(result['baseline'])}")
    lines.append("adopt it (your decision; then `make run` gates it as usual):")
    lines.append(f"  {dvc_exp_run_line(best.user_attrs['params'])}")
    return "\n".join(lines)
