"""Stage clean: combined CSV -> normalised, deduplicated, stratified train/test parquet files.

Every text goes through ``ytsentiment.text.normalize`` (the function the served model runs); rows whose normalised
text is empty are dropped, and so are duplicates (first occurrence kept, in catalogue order), so no text can sit in
both train and test. The split is stratified by label *and* source and keyed by the normalised text (seeded from
``base.seed``), so a text's side does not move when other rows are added.

Columns out: text (raw), clean_text, label, source, group, weight.
"""

from __future__ import annotations

import argparse
import logging

import pandas as pd

from ytsentiment.config import load_params
from ytsentiment.io import atomic_write
from ytsentiment.logs import run_main
from ytsentiment.splits import keyed_split, strata_of
from ytsentiment.text import normalize_many

log = logging.getLogger(__name__)


def clean(df: pd.DataFrame) -> pd.DataFrame:
    df = df.assign(text=df["text"].fillna("").astype(str))
    df["clean_text"] = normalize_many(df["text"])
    empty = df["clean_text"].str.len() == 0
    dup = df["clean_text"].duplicated(keep="first") & ~empty
    conflicting = df.loc[df["clean_text"].duplicated(keep=False) & ~empty].groupby("clean_text")["label"].nunique()
    log.info("dropping %d empty and %d duplicate texts (%d distinct texts had conflicting labels)",
             int(empty.sum()), int(dup.sum()), int((conflicting > 1).sum()))
    return df.loc[~empty & ~dup].reset_index(drop=True)


def split(df: pd.DataFrame, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified by (source, label); a row's side follows from its normalised text (see ``splits.keyed_split``)."""
    train, test = keyed_split(df["clean_text"], strata_of(df), test_size, seed)
    return df.iloc[train].reset_index(drop=True), df.iloc[test].reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--in", dest="inp", required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    args = ap.parse_args(argv)
    params = load_params(args.params)
    df = clean(pd.read_csv(args.inp, keep_default_na=False, dtype={"text": str}))
    train, test = split(df, params.clean.test_size, params.seed)
    for frame, path in ((train, args.train), (test, args.test)):
        with atomic_write(path) as tmp:
            frame.to_parquet(tmp, index=False)
    log.info("train %d rows, test %d rows", len(train), len(test))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
