"""The clean stage's keyed split: stratified counts as hand-computed, and a text's side independent of the row order
and of the other strata (so re-deriving one source cannot move another source's test rows)."""

from __future__ import annotations

import pandas as pd

from ytsentiment.splits import keyed_split


def _split(keys, strata, test_size=0.2, seed=42):
    kept, held = keyed_split(pd.Series(keys), pd.Series(strata), test_size, seed)
    return [keys[i] for i in kept], [keys[i] for i in held]


def test_held_out_counts_per_stratum_and_a_lone_row_stays_kept():
    keys = [f"a{i}" for i in range(11)] + [f"b{i}" for i in range(5)] + ["c0"]
    strata = ["a"] * 11 + ["b"] * 5 + ["c"]
    kept, held = _split(keys, strata)
    assert sum(k.startswith("a") for k in held) == 3  # ceil(0.2 * 11)
    assert sum(k.startswith("b") for k in held) == 1  # ceil(0.2 * 5)
    assert "c0" in kept and "c0" not in held
    assert sorted(kept + held) == sorted(keys)


def test_a_text_keeps_its_side_whatever_the_order_and_the_other_strata():
    keys = [f"text {i}" for i in range(400)]
    strata = ["s|1" if i % 3 else "s|0" for i in range(400)]
    _, held = _split(keys, strata)
    reversed_keys, reversed_strata = keys[::-1], strata[::-1]
    assert sorted(_split(reversed_keys, reversed_strata)[1]) == sorted(held)
    more_keys = keys + [f"other {i}" for i in range(300)]  # another source added
    assert set(held) <= set(_split(more_keys, strata + ["t|1"] * 300)[1])


def test_the_seed_changes_the_split():
    keys = [f"text {i}" for i in range(200)]
    assert _split(keys, ["s"] * 200, seed=1)[1] != _split(keys, ["s"] * 200, seed=2)[1]
