"""Seeded, stratified splits: by row keys for the clean stage's train/test split, by position for the train and tune
stages' fit/validation slices."""

from __future__ import annotations

import hashlib
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
    stratified = min(n_out, len(stratify) - n_out) >= stratify.nunique()
    if not stratified:
        log.warning("%d rows cannot be stratified over %d strata: random split", len(stratify), stratify.nunique())
    kept, held_out = train_test_split(rows[splittable], test_size=test_size, random_state=seed,
                                      stratify=stratify if stratified else None)
    return np.sort(np.concatenate([kept, rows[~splittable]])), np.sort(held_out)


def strata_of(frame: pd.DataFrame) -> pd.Series:
    return frame["source"] + "|" + frame["label"].astype(str)


def keyed_split(keys: pd.Series, strata: pd.Series, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted row positions (kept, held out): in each stratum, the ``ceil(test_size * n)`` rows whose seeded hash of
    their key is smallest are held out (a stratum of one row stays kept).

    A row's side depends on its own key and its stratum's size, not on the row order or the other strata: a source
    added, re-derived or grown by feedback leaves every other source's test rows where they were, so per-source
    figures stay comparable from one data version to the next."""
    digests = [hashlib.blake2b(f"{seed}\0{key}".encode(), digest_size=8).digest() for key in keys]
    frame = pd.DataFrame({"stratum": strata.to_numpy(), "hash": [int.from_bytes(d, "big") for d in digests]})
    frame["hash"] = frame["hash"].astype(np.uint64)
    ordered = frame.sort_values(["stratum", "hash"], kind="stable")
    rank = ordered.groupby("stratum", sort=False).cumcount().to_numpy()
    size = ordered.groupby("stratum", sort=False)["hash"].transform("size").to_numpy()
    held = (size >= 2) & (rank < np.ceil(test_size * size))
    positions = ordered.index.to_numpy()
    return np.sort(positions[~held]), np.sort(positions[held])
