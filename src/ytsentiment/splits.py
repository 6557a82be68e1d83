"""The one seeded, stratified split used by the clean stage (train/test) and the train stage (fit/validation)."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

log = logging.getLogger(__name__)


def stratified_split(strata: pd.Series, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted row positions (kept, held out), stratified by ``strata`` (e.g. "source|label").

    A stratum of one row cannot be split and stays on the kept side; when the held-out share is too small to hold a
    row of every stratum (a tiny corpus), sklearn refuses to stratify and the split is random, with a warning.
    """
    rows = np.arange(len(strata))
    splittable = (strata.map(strata.value_counts()) >= 2).to_numpy()
    stratify = strata[splittable]
    n_out = math.ceil(test_size * len(stratify))
    if min(n_out, len(stratify) - n_out) < stratify.nunique():
        log.warning("%d rows cannot be stratified over %d strata: random split", len(stratify), stratify.nunique())
        stratify = None
    kept, held_out = train_test_split(rows[splittable], test_size=test_size, random_state=seed, stratify=stratify)
    return np.sort(np.concatenate([kept, rows[~splittable]])), np.sort(held_out)


def strata_of(frame: pd.DataFrame) -> pd.Series:
    return frame["source"] + "|" + frame["label"].astype(str)
