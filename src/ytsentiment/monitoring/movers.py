"""The terms that moved most between the baseline and the window: what the production model leans on, and how that
changed.

Each side's logged comments that the model reads (``language`` supported, text kept: PREDICTION_LOG_TEXT) are
sampled (at most ``max_drift_rows``, seeded with ``seed``: the bound and seed of the drift signals) and explained
(``ytsentiment.explain``, ``WHY_TERMS`` terms each). Per predicted class, a term's *share* on a side is the share of
that side's comments of that class holding the term among their why-terms. A mover is a (class, term) whose share
changed (window - baseline); the ``TOP_MOVERS`` largest absolute changes are kept, ties by class then term. A class
no comment of a side was given has no shares there and is left out.
``term_movers`` returns a JSON-ready section: ``computed`` and the sample sizes, the ``movers`` or a ``note`` saying
why there are none (no logged text, too few comments, no model, or one from before explanations).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ytsentiment.config import MonitorParams
from ytsentiment.contract import CLASSES, LABELS
from ytsentiment.explain import explain
from ytsentiment.language import is_supported

WHY_TERMS = 3
TOP_MOVERS = 15


def term_shares(why: Sequence[Sequence[Mapping[str, Any]]], classes: Sequence[int]) -> dict[int, dict[str, float]]:
    """Per predicted class, each term's share of that class's comments whose why-terms hold it."""
    comments = Counter(int(c) for c in classes)
    holding: dict[int, Counter] = {c: Counter() for c in comments}
    for terms, c in zip(why, classes, strict=True):
        holding[int(c)].update({t["term"] for t in terms})
    return {c: {term: n / comments[c] for term, n in counts.items()} for c, counts in holding.items()}


def movers(baseline: Mapping[int, Mapping[str, float]], window: Mapping[int, Mapping[str, float]],
           top: int = TOP_MOVERS) -> list[dict[str, Any]]:
    """The ``top`` (class, term) pairs whose share changed most from ``baseline`` to ``window`` (``term_shares``),
    over the classes of both; a term absent from a side has share 0 there; unchanged pairs are left out."""
    rows: list[dict[str, Any]] = []
    for c in (c for c in CLASSES if c in baseline and c in window):
        before, after = baseline[c], window[c]
        for term in set(before) | set(after):
            change = after.get(term, 0.0) - before.get(term, 0.0)
            if round(change, 12):
                rows.append({"term": term, "class": LABELS[c], "baseline_share": round(before.get(term, 0.0), 4),
                             "window_share": round(after.get(term, 0.0), 4), "change": round(change, 4)})
    order = {LABELS[c]: i for i, c in enumerate(CLASSES)}
    rows.sort(key=lambda r: (-abs(r["change"]), order[r["class"]], r["term"]))
    return rows[:top]


def explainable(frame, params: MonitorParams):
    """The rows of a predictions frame the model reads and whose text was logged, sampled as the drift signals are."""
    keep = frame["text"].notna()
    if "language" in frame.columns:
        keep &= frame["language"].map(lambda code: not isinstance(code, str) or is_supported(code))  # old rows: no code
    rows = frame[keep]
    if len(rows) > params.max_drift_rows:
        rows = rows.sample(n=params.max_drift_rows, random_state=params.seed)
    return rows.reset_index(drop=True)


def term_movers(baseline, window, params: MonitorParams, model: Callable[[], Any]) -> dict[str, Any]:
    """The movers section of the monitor's summary (module docstring); ``model()`` gives the production Pipeline
    (or None when it cannot be loaded) and is only called when both sides have enough logged text."""
    sides = {"baseline": explainable(baseline, params), "window": explainable(window, params)}
    out: dict[str, Any] = {"computed": False, "n_baseline": len(sides["baseline"]), "n_window": len(sides["window"]),
                           "why_terms": WHY_TERMS, "movers": []}
    logged = {name: frame["text"].notna().any() for name, frame in (("baseline", baseline), ("window", window))}
    if not all(logged.values()):
        missing = " and ".join(name for name, kept in logged.items() if not kept)
        out["note"] = (f"no comment texts are logged for the {missing} (PREDICTION_LOG_TEXT is off): the terms the "
                       "model leaned on cannot be compared")
        return out
    if min(len(frame) for frame in sides.values()) < params.min_predictions:
        out["note"] = (f"not enough data: {out['n_window']} comments with text in the window and {out['n_baseline']} "
                       f"in the baseline (at least {params.min_predictions} each)")
        return out
    pipeline = model()
    if pipeline is None:
        out["note"] = "the production model could not be loaded (see the log; --model-uri names one)"
        return out
    try:
        why = {name: explain(pipeline, frame["text"].astype(str).tolist(), WHY_TERMS) for name, frame in sides.items()}
    except (AttributeError, KeyError, TypeError) as exc:  # a Pipeline from before explanations
        out["note"] = f"the production model cannot explain its predictions ({type(exc).__name__}: {exc})"
        return out
    shares = {name: term_shares(why[name], frame["sentiment"].astype(int).tolist()) for name, frame in sides.items()}
    out.update(computed=True, movers=movers(shares["baseline"], shares["window"]))
    return out
