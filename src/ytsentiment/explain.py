"""Why a comment got its label: the few words of it that pushed the model most toward that label.

``explain(pipeline, texts, k=3)`` returns, for each text, at most ``k`` entries ``{"term": str, "weight": float}``,
largest weight first, every weight > 0 (a comment whose every term pushed away from its label gets an empty list).
A weight is in the classifier's log-odds units: how much the term raised the predicted class's score over the mean of
the other two classes' scores. It is exact, not sampled:

* the logistic regression's part is coefficient x feature value (predicted class minus the mean of the others):
  a word n-gram is its term ("not good" for the normaliser's ``not neg_good``); a character n-gram's weight is spread
  evenly over the characters it covers and summed per word of the comment (so "amaaazing" gets one weight, not
  fifteen fragments); VADER's four columns are one term, ``"lexicon"``;
* LightGBM's part (``train.learner`` "stack") is the path attribution (Saabas) of each input it reads, from its
  own trees' node values: VADER's columns are ``"lexicon"``, the comment-shape ones go by name (``"length"``,
  ``"emoji"`` …), and what the logistic regression's scores contributed is shared among the comment's terms in
  proportion to their linear weights (the words reach LightGBM only through those scores);
* each part is scaled by its share of the averaged probabilities, and equal terms are summed.

Terms are the comment as the model read it: lowercased, with links and @handles as ``url``/``user``, emoji as their
names and YouTube idiom rewritten (``text.youtube_idiom``: "hits different" reads "is amazing"), so a term is
usually, not always, a substring of the lowercased comment. ``pipeline`` is the served Pipeline (``model.compose``);
the cost is one feature pass, as ``predict_proba``'s, plus the attribution (``scripts/bench_api.py --explain``).
"""

from __future__ import annotations

import re
import weakref
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ytsentiment import YtSentimentError
from ytsentiment.contract import TEXT_COLUMN
from ytsentiment.model import CharNgrams, VaderFeatures
from ytsentiment.text import NEGATION_PREFIX

LEXICON = "lexicon"
_PUNCTUATION = re.compile(r"^[^\w]+|[^\w]+$")
_TERMS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # fitted vectorizer -> its terms by column
_PATHS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # fitted LightGBM -> its path table (_paths)


def explain(pipeline, texts: list[str], k: int = 3, inputs=None) -> list[list[dict[str, Any]]]:
    """Per text, at most ``k`` ``{"term", "weight"}`` that pushed it most toward its predicted label (module
    docstring: what a term and a weight are). One list per text, in order; weights rounded to 4 decimals.
    ``inputs``: the feature rows of ``texts``, when the caller has them (else computed here)."""
    if k < 1:
        raise YtSentimentError(f"explain: k must be >= 1, got {k}")
    out = []
    for row in contributions(pipeline, texts, inputs):
        best = sorted(((w, t) for t, w in row.items() if w > 0), key=lambda wt: (-wt[0], wt[1]))[:k]
        out.append([{"term": t, "weight": round(float(w), 4)} for w, t in best])
    return out


def contributions(pipeline, texts: list[str], inputs=None) -> list[dict[str, float]]:
    """Per text, every term's weight toward the predicted label, of either sign (``explain`` keeps the top ones).
    Where only the logistic regression is in the model, the weights plus its intercepts' margin sum to its decision
    margin exactly."""
    texts = ["" if not isinstance(t, str) else t for t in texts]
    if not texts:
        return []
    features, classifier = pipeline.named_steps["features"], pipeline.named_steps["classifier"]
    X = sp.csr_matrix(features.transform(pd.DataFrame({TEXT_COLUMN: texts})) if inputs is None else inputs)
    predicted = np.asarray(classifier.predict_proba(X)).argmax(axis=1)
    blocks = _blocks(features)
    words: list[dict[str, float]] = [{} for _ in texts]
    _linear_terms(classifier, X, predicted, blocks, texts, words)
    linear_share, boosted_share = classifier.shares()
    totals: list[dict[str, float]] = [{} for _ in texts]
    scale = np.full(len(texts), linear_share)
    if boosted_share:
        credit = _boosted_terms(classifier, X, predicted, blocks, totals, boosted_share)
        linear_sum = np.array([sum(row.values()) for row in words])
        # LightGBM's credit to the linear scores, spread over the terms as their linear weights are (when both
        # point the same way; otherwise the terms keep their linear part alone)
        spread = credit / np.where(linear_sum > 0, linear_sum, 1.0)
        scale += np.where((linear_sum > 0) & (spread > 0), spread, 0.0)
    for row, total, factor in zip(words, totals, scale.tolist(), strict=True):
        for term, weight in row.items():
            total[term] = total.get(term, 0.0) + weight * factor
    return totals


def _margin(per_class: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """(n, classes, m) contributions -> (n, m): the predicted class's minus the mean of the others'."""
    n, c = per_class.shape[:2]
    own = per_class[np.arange(n), predicted]
    return own - (per_class.sum(axis=1) - own) / (c - 1)


def _blocks(features) -> dict[str, tuple[int, int, Any]]:
    """Each part of the fitted feature union: name -> (first column, end column, fitted part)."""
    out, start = {}, 0
    for name, part in features.transformer_list:
        last = part.steps[-1][1] if hasattr(part, "steps") else part
        width = len(last.idf_) if hasattr(last, "idf_") else len(last.get_feature_names_out())
        out[name] = (start, start + width, part)
        start += width
    return out


def _word_terms(tfidf) -> np.ndarray:
    terms = _TERMS.get(tfidf)
    if terms is None:
        names = tfidf.get_feature_names_out()
        terms = np.array([" ".join(w.removeprefix(NEGATION_PREFIX) for w in t.split(" ")) for t in names],
                         dtype=object)
        _TERMS[tfidf] = terms
    return terms


def _add(totals: list[dict[str, float]], rows: np.ndarray, terms, weights: np.ndarray) -> None:
    for r, t, w in zip(rows.tolist(), terms, weights.tolist(), strict=True):
        if w:
            totals[r][t] = totals[r].get(t, 0.0) + w


def _linear_terms(classifier, X, predicted, blocks, texts, totals) -> None:
    coef = classifier.linear_.coef_  # (classes, columns it reads)
    coo = classifier.linear_inputs(X).tocoo()
    # the predicted class's coefficient minus the mean of the other classes', at each nonzero only
    at = np.asarray(coef[:, coo.col], dtype=np.float64)  # (classes, nonzeros)
    own = at[predicted[coo.row], np.arange(len(coo.col))]
    others = (at.sum(axis=0) - own) / (len(coef) - 1)
    weight = coo.data * (own - others)
    coo.col = classifier.linear_column(coo.col)  # back to X's columns, which the blocks describe
    for name, (lo, hi, part) in blocks.items():
        inside = (coo.col >= lo) & (coo.col < hi)
        rows, cols, w = coo.row[inside], coo.col[inside] - lo, weight[inside]
        if name == "tfidf":
            _add(totals, rows, _word_terms(part.named_steps["tfidf"])[cols], w)
        elif isinstance(part, VaderFeatures):
            _add(totals, rows, [LEXICON] * len(rows), w)
        elif name == "chars":
            _char_terms(part.named_steps["ngrams"], texts, rows, cols, w, totals)


def _char_terms(ngrams: CharNgrams, texts, rows, cols, weights, totals) -> None:
    """Spread each character column's weight over its n-gram occurrences and their characters, summed per word."""
    prepared = ngrams.prepare(texts)
    occ_row, occ_col, occ_start, occ_size, codes = ngrams.occurrences(prepared)
    if not len(occ_row):
        return
    n = ngrams.n_features
    weighted = rows * n + cols
    order = np.argsort(weighted, kind="stable")
    weighted, weights = weighted[order], weights[order]
    unique, inverse, counts = np.unique(occ_row * n + occ_col, return_inverse=True, return_counts=True)
    at = np.minimum(np.searchsorted(weighted, unique), max(len(weighted) - 1, 0))
    per_key = np.where(weighted[at] == unique, weights[at], 0.0) if len(weighted) else np.zeros(len(unique))
    per_occurrence = per_key[inverse] / counts[inverse]
    # word id of every position of the joined text (-1: a space or a separator)
    is_word = (codes != ord(" ")) & (codes != 0)
    starts_word = is_word & ~np.concatenate([[False], is_word[:-1]])
    word_id = np.where(is_word, np.cumsum(starts_word) - 1, -1)
    word_weight = np.zeros(int(starts_word.sum()))
    for size in np.unique(occ_size).tolist():
        pick = np.flatnonzero(occ_size == size)
        ids = word_id[occ_start[pick][:, None] + np.arange(size)[None, :]]
        ok = ids >= 0
        covered = ok.sum(axis=1)  # characters of the n-gram inside words (spaces carry none of the weight)
        share = per_occurrence[pick] / np.maximum(covered, 1)
        np.add.at(word_weight, ids[ok], np.broadcast_to(share[:, None], ids.shape)[ok])
    text = "\0".join(prepared)
    word_starts = np.flatnonzero(starts_word)
    word_row = np.cumsum(codes == 0)[word_starts]
    for i, (start, row) in enumerate(zip(word_starts.tolist(), word_row.tolist(), strict=True)):
        if word_weight[i]:
            end = text.find(" ", start)
            stop = text.find("\0", start)
            end = min(e for e in (end, stop, len(text)) if e >= 0)
            word = text[start:end]
            term = _PUNCTUATION.sub("", word) or word
            totals[row][term] = totals[row].get(term, 0.0) + float(word_weight[i])


def _boosted_terms(classifier, X, predicted, blocks, totals, share: float) -> np.ndarray:
    """Add LightGBM's contributions of the comment-level inputs to ``totals``; return, per row, its contribution of
    the logistic regression's scores (both toward the predicted label, scaled by ``share``)."""
    model = classifier.boosted_
    inputs = classifier.boosted_inputs(X, classifier.linear_.predict_proba(classifier.linear_inputs(X)))
    classes = len(classifier.classes_)
    margin = _margin(_path_contributions(model, inputs).reshape(len(inputs), classes, -1), predicted) * share
    names = []
    for lo, hi, part in blocks.values():
        if hi <= classifier.leading_columns:
            names += [LEXICON] * (hi - lo) if isinstance(part, VaderFeatures) else list(part.get_feature_names_out())
    rows, cols = np.nonzero(margin[:, classes:])
    _add(totals, rows, np.asarray(names, dtype=object)[cols], margin[:, classes:][rows, cols])
    return margin[:, :classes].sum(axis=1)


def _path_contributions(model, inputs: np.ndarray) -> np.ndarray:
    """(rows, classes x inputs): LightGBM's path attribution (Saabas) of each input to each class's raw score. Along
    the path to the leaf a row reaches in a tree, every split credits its input with the change of the tree's value
    from the node to the child taken; a row's credits sum to its raw score less the trees' root values. TreeSHAP
    (``pred_contrib``) took 11x a whole prediction on the served model (288 ms per 100 comments, measured); this
    costs one LightGBM prediction (``pred_leaf``) and a sparse product."""
    starts, table = _paths(model)
    leaves = np.asarray(model.predict(inputs, pred_leaf=True)).reshape(len(inputs), -1)
    n, used = leaves.shape
    reached = sp.csr_matrix((np.ones(n * used), (np.repeat(np.arange(n), used), (leaves + starts[:used]).ravel())),
                            shape=(n, table.shape[0]))
    return (reached @ table).toarray()


def _paths(model) -> tuple[np.ndarray, sp.csr_matrix]:
    """For a fitted LightGBM: each tree's first row in the table, and the table (one row per leaf of every tree, one
    column per class x input) of the credits along the path to that leaf. Built once per model."""
    cached = _PATHS.get(model)
    if cached is None:
        classes, width = len(model.classes_), model.n_features_in_
        rows: list[int] = []
        cols: list[int] = []
        credits: list[float] = []
        starts: list[int] = []
        start = 0
        for t, tree in enumerate(model.booster_.dump_model()["tree_info"]):
            starts.append(start)
            todo: list[tuple[dict, tuple[tuple[int, float], ...]]] = [(tree["tree_structure"], ())]
            while todo:
                node, path = todo.pop()
                if "leaf_value" in node:
                    for feature, credit in path:
                        rows.append(start + node.get("leaf_index", 0))
                        cols.append((t % classes) * width + feature)
                        credits.append(credit)
                    continue
                for child in (node["left_child"], node["right_child"]):
                    value = child["leaf_value"] if "leaf_value" in child else child["internal_value"]
                    todo.append((child, (*path, (node["split_feature"], value - node["internal_value"]))))
            start += tree["num_leaves"]
        cached = np.asarray(starts), sp.csr_matrix((credits, (rows, cols)), shape=(start, classes * width))
        _PATHS[model] = cached
    return cached
