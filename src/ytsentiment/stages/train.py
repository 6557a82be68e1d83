"""Stage train: sparse features + labels -> the fitted classifier (``model.SentimentClassifier``).

A seeded, stratified (source x label) slice of the training rows (``train.validation_fraction``) is held out from
both models. The logistic regression (saga) reads every column but the comment-shape ones, its word columns scaled
by naive Bayes weights to the power ``train.word_nb_power`` while fitting (folded back into the coefficients after).
With ``train.learner`` "stack" (the default), LightGBM reads its class log-probabilities (while fitting, the ones
``train.stack_folds`` logistic regressions give the fold each did not see, folds stratified by source x label) and
the comment-level columns (VADER, comment shape), with early stopping on the held-out slice (the round it picks is
recorded); the two models' probabilities are averaged (``train.linear_weight`` for the linear one). "linear" fits
the logistic regression alone. Either way the probabilities are then calibrated on the held-out slice
(``train.calibration``: temperature scaling or isotonic per class). Rows are weighted by their source's ``weight``
and, with ``class_weight: balanced``, by class. Params: ``train.*``, ``featurize.*`` (the column layout) and
``base.seed``. Outputs: the classifier (joblib) and a small JSON of training facts (DVC metrics). Both are the same
bytes for the same inputs (each saga fit is seeded and runs in one thread; LightGBM runs ``deterministic`` with a
fixed thread count from ``train.n_jobs``), so the fit time goes to a separate timings file that DVC does not track
(``--timings``). A logistic regression that stops at ``train.linear_max_iter`` epochs before reaching
``train.linear_tol`` is logged as a warning, not hidden.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable

import joblib
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.metrics import f1_score

from ytsentiment.config import FeaturizeParams, TrainParams, load_params
from ytsentiment.io import atomic_write, write_json
from ytsentiment.logs import run_main
from ytsentiment.model import build_classifier
from ytsentiment.splits import strata_of, stratified_split

log = logging.getLogger(__name__)


def fit(X, frame: pd.DataFrame, featurize: FeaturizeParams, p: TrainParams, seed: int,
        make_callbacks: Callable[..., list] | None = None):
    """Fit the classifier (see the module docstring); returns (classifier, facts, timings).

    ``facts`` depend only on the inputs (DVC metrics); ``timings`` on the machine (kept apart).
    ``make_callbacks(frame_val, classes)`` (``ytsentiment tune``: pruning) builds extra LightGBM callbacks that know
    the held-out slice's rows; unused when LightGBM is not fitted.
    """
    strata = strata_of(frame)
    _, idx_val = stratified_split(strata, p.validation_fraction, seed)
    y, w = frame["label"].to_numpy(), frame["weight"].to_numpy()
    clf = build_classifier(featurize, p, seed)
    callbacks = (make_callbacks(frame.iloc[idx_val].reset_index(drop=True), np.unique(y))
                 if make_callbacks and p.learner == "stack" else [])
    started = time.perf_counter()
    clf.fit(X, y, sample_weight=w, held_out=idx_val, strata=strata.to_numpy(), callbacks=callbacks)
    timings = {"fit_seconds": round(time.perf_counter() - started, 1)}
    facts: dict = {"rows": int(X.shape[0]), "features": int(X.shape[1]),
                   "linear_epochs": int(clf.linear_.n_iter_.max())}
    if clf.boosted_ is not None:
        facts.update(best_iteration=int(clf.boosted_.best_iteration_ or p.n_estimators),
                     valid_multi_logloss=float(clf.boosted_.best_score_["valid_0"]["multi_logloss"]))
    if isinstance(clf.calibration_, float):
        facts["temperature"] = clf.calibration_
    if facts["linear_epochs"] >= p.linear_max_iter:
        log.warning("the logistic regression stopped at train.linear_max_iter = %d epochs before reaching "
                    "train.linear_tol = %g: raise one of them if the figures matter", p.linear_max_iter, p.linear_tol)
    log.info("validation macro-F1 %.4f", f1_score(y[idx_val], clf.predict(X[idx_val]), average="macro"))
    log.info("trained: %s, %s", facts, timings)
    return clf, facts, timings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--features", required=True, help="train.npz")
    ap.add_argument("--frame", required=True, help="train.parquet (labels, sources, weights)")
    ap.add_argument("--model", required=True)
    ap.add_argument("--facts", required=True, help="training facts (DVC metrics)")
    ap.add_argument("--timings", help="fit time (JSON, not tracked by DVC)")
    args = ap.parse_args(argv)
    params = load_params(args.params)
    # scipy-stubs: load_npz's result has no 2-D shape type, so tocsr() (2-D only) does not match; the file is 2-D.
    X = sp.load_npz(args.features).tocsr()  # type: ignore[misc, var-annotated]
    frame = pd.read_parquet(args.frame, columns=["label", "source", "weight"])
    clf, facts, timings = fit(X, frame, params.featurize, params.train, params.seed)
    with atomic_write(args.model) as tmp:
        joblib.dump(clf, tmp)
    write_json(args.facts, facts)
    if args.timings:
        write_json(args.timings, timings)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
