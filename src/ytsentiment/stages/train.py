"""Stage train: sparse features + labels -> a fitted classifier (a logistic regression, or a blend with LightGBM).

With ``train.linear_weight`` 1 (the default) the classifier is a logistic regression (saga) on every training row. Below
1, LightGBM is fitted too, with early stopping on a seeded, stratified slice of the training rows
(``train.validation_fraction``; the round it picks is recorded), and the logistic regression, fitted on the same rows,
joins it in a ``BlendedClassifier`` (``train.linear_weight`` of the averaged probabilities). Rows are weighted by their
source's ``weight`` and, with ``class_weight: balanced``, by class. Params: ``train.*`` and ``base.seed``. Outputs: the
classifier (joblib) and a small JSON of training facts (DVC metrics). Both are the same bytes for the same inputs (saga
is seeded and runs in one thread; LightGBM runs ``deterministic`` with a fixed thread count from ``train.n_jobs``), so
the fit time goes to a separate timings file that DVC does not track (``--timings``). A logistic regression that stops
at ``train.linear_max_iter`` epochs before reaching ``train.linear_tol`` is logged as a warning, not hidden.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from collections.abc import Callable

import joblib
import lightgbm as lgb
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.metrics import f1_score

from ytsentiment.config import TrainParams, load_params
from ytsentiment.io import atomic_write, write_json
from ytsentiment.logs import run_main
from ytsentiment.model import BlendedClassifier, build_classifier, build_linear
from ytsentiment.splits import strata_of, stratified_split

log = logging.getLogger(__name__)


def fit(X, frame: pd.DataFrame, p: TrainParams, seed: int, make_callbacks: Callable[..., list] | None = None):
    """Fit the classifier (see the module docstring); returns (blended classifier, facts, timings).

    ``facts`` depend only on the inputs (DVC metrics); ``timings`` on the machine (kept apart).
    ``make_callbacks(frame_val, classes)`` (``ytsentiment tune``: pruning) builds extra LightGBM callbacks that know
    the early-stopping slice's rows; unused when LightGBM is not fitted.
    """
    idx_fit, idx_val = stratified_split(strata_of(frame), p.validation_fraction, seed)
    y, w = frame["label"].to_numpy(), frame["weight"].to_numpy()
    facts: dict = {"rows": int(X.shape[0]), "features": int(X.shape[1])}
    timings: dict = {}
    clf = None
    if p.linear_weight < 1:
        clf = build_classifier(p, seed)
        # LightGBM's class index i is the i-th sorted label of the rows it fits
        extra = (make_callbacks(frame.iloc[idx_val].reset_index(drop=True), np.unique(y[idx_fit]))
                 if make_callbacks else [])
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*eval_set.*deprecated", category=Warning)
            clf.fit(
                X[idx_fit], y[idx_fit], sample_weight=w[idx_fit],
                # eval_set, not the newer eval_X/eval_y: in lightgbm 4.7 the latter skip the label encoding of -1/0/1
                # and early stopping fires after one round (measured), so its deprecation warning is silenced.
                eval_set=[(X[idx_val], y[idx_val])], eval_sample_weight=[w[idx_val]],
                callbacks=[lgb.early_stopping(p.early_stopping_rounds, verbose=False), *extra],
            )
        facts.update(best_iteration=int(clf.best_iteration_ or p.n_estimators),
                     valid_multi_logloss=float(clf.best_score_["valid_0"]["multi_logloss"]))
        timings["fit_seconds"] = round(time.perf_counter() - started, 1)
    # The logistic regression alone needs no early-stopping slice: it learns from every row.
    held_out = p.linear_weight < 1
    rows = idx_fit if held_out else slice(None)
    linear = None
    if p.linear_weight:
        started = time.perf_counter()
        with warnings.catch_warnings():  # scikit-learn's ConvergenceWarning said once, in the log, with the figures
            warnings.filterwarnings("ignore", message="The max_iter was reached", category=Warning)
            linear = build_linear(p, seed).fit(X[rows], y[rows], sample_weight=w[rows])
        facts["linear_epochs"] = int(linear.n_iter_.max())
        if facts["linear_epochs"] >= p.linear_max_iter:
            log.warning("the logistic regression stopped at train.linear_max_iter = %d epochs before reaching "
                        "train.linear_tol = %g: raise one of them if the figures matter", p.linear_max_iter,
                        p.linear_tol)
        timings["linear_fit_seconds"] = round(time.perf_counter() - started, 1)
    blend = BlendedClassifier.from_fitted(clf, linear, p.linear_weight)
    if held_out:
        log.info("validation macro-F1 %.4f", f1_score(y[idx_val], blend.predict(X[idx_val]), average="macro"))
    log.info("trained: %s, %s", facts, timings)
    return blend, facts, timings


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
    clf, facts, timings = fit(X, frame, params.train, params.seed)
    with atomic_write(args.model) as tmp:
        joblib.dump(clf, tmp)
    write_json(args.facts, facts)
    if args.timings:
        write_json(args.timings, timings)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
