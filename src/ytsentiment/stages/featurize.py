"""Stage featurize: train/test parquet -> fitted feature union (TF-IDF + optional VADER) and sparse matrices.

The union is fitted on the training rows only and saved with joblib; the evaluate stage joins it with the classifier
into the one served Pipeline. Params: ``featurize.*`` (n-grams, vocabulary size, document frequencies, lexicon).
The vocabulary is chosen from the training rows' normalised text (``clean_text``) by ``model.top_terms``, which
breaks ties the same way on every machine; the outputs are the same bytes for the same inputs.
"""

from __future__ import annotations

import argparse
import logging

import joblib
import numpy as np
import pandas as pd
import scipy.sparse as sp

from ytsentiment.config import load_params
from ytsentiment.io import atomic_write
from ytsentiment.logs import run_main
from ytsentiment.model import build_features, slim, top_terms
from ytsentiment.text import URL_PATTERN

log = logging.getLogger(__name__)


def with_links(frame: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """The training comments with a link added (at the end or the start, seeded) to ``share`` of those holding none,
    their labels unchanged: a link alone says nothing of how a comment feels (the invariance suite)."""
    if not share:
        return frame
    rng = np.random.default_rng(seed)
    texts = frame["text"].astype(str)
    pick = ~texts.str.contains(URL_PATTERN) & (rng.random(len(texts)) < share)
    at_end = rng.random(len(texts)) < 0.5
    link = "https://example.com/watch"
    return frame.assign(text=[(f"{t} {link}" if end else f"{link} {t}") if p else t
                              for t, p, end in zip(texts, pick, at_end, strict=True)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--features", required=True, help="fitted feature union (joblib)")
    ap.add_argument("--train-out", required=True)
    ap.add_argument("--test-out", required=True)
    args = ap.parse_args(argv)
    params = load_params(args.params)
    train = pd.read_parquet(args.train)
    test = pd.read_parquet(args.test)
    features = build_features(params.featurize, top_terms(train["clean_text"], params.featurize))
    X_train = features.fit_transform(with_links(train[["text"]], params.featurize.link_augment, params.seed)).tocsr()
    X_test = features.transform(test[["text"]]).tocsr()
    slim(features)
    log.info("features: %d columns, train %s, test %s", X_train.shape[1], X_train.shape, X_test.shape)
    with atomic_write(args.features) as tmp:
        joblib.dump(features, tmp)
    for matrix, path in ((X_train, args.train_out), (X_test, args.test_out)):
        with atomic_write(path) as tmp:
            with open(tmp, "wb") as fh:
                sp.save_npz(fh, matrix, compressed=False)  # zlib cost 16 s of the stage (measured)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
