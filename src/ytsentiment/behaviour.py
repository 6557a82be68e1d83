"""Behavioural checks of a sentiment model (after Ribeiro et al., CheckList), shared by the gate and the tests.

* minimum functionality: plain, unambiguous comments get the obvious label;
* invariance: URLs, @handles, case and surrounding whitespace do not change the label;
* directional: negating a clearly positive comment lowers its positive probability;
* YouTube idiom: slang ("slaps", "mid", "cringe"), W/L, 😭/💀 for laughter and joy, timestamps, "who's watching in
  2025", self-promotion; the training sets (tweets, Reddit) barely hold these. The model is improved on them by
  rules that generalise (``text.youtube_idiom``, ``model.YOUTUBE_LEXICON``), never by these sentences.

Each suite returns its pass rate and the failures, so a refusal can show exactly what broke.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ytsentiment.contract import TEXT_COLUMN

MINIMUM_FUNCTIONALITY = [
    ("I love this video, it is amazing!", 1),
    ("This is the best tutorial I have ever watched, thank you so much", 1),
    ("Great explanation, very helpful and clear", 1),
    ("What a beautiful song, I am so happy right now", 1),
    ("Awesome work, you are brilliant", 1),
    ("This is terrible, I hate it", -1),
    ("Worst video ever, a complete waste of time", -1),
    ("Awful sound quality and boring content, very disappointing", -1),
    ("I am so angry and sad after watching this", -1),
    ("This is disgusting and stupid", -1),
]

INVARIANCE_BASES = [
    "I love this video, it is amazing!",
    "Worst video ever, a complete waste of time",
    "Great explanation, very helpful and clear",
    "This is terrible, I hate it",
    "the new episode comes out on friday",
]

DIRECTIONAL_PAIRS = [
    ("This video is good", "This video is not good"),
    ("I like this song", "I don't like this song"),
    ("The tutorial was helpful", "The tutorial was not helpful"),
    ("I love the ending", "I do not love the ending"),
    ("This is great", "This isn't great"),
    ("Amazing editing", "Not amazing editing"),
]


YOUTUBE_IDIOM = [
    # slang praise and pans
    ("this song slaps", 1),
    ("absolute banger, on repeat all day", 1),
    ("this beat is fire 🔥", 1),
    ("goated channel fr", 1),
    ("so underrated, you deserve way more subs", 1),
    ("this is so cringe", -1),
    ("honestly mid, the old videos were better", -1),
    ("overrated trash", -1),
    # W / L
    ("W video", 1),
    ("another W from this creator", 1),
    ("L take", -1),
    ("huge L for the channel", -1),
    # 😭 / 💀 for laughter and joy
    ("I'm crying 😭 this is so beautiful", 1),
    ("💀💀 I'm dead lmao", 1),
    ("the ending had me dying 😭😭 so funny", 1),
    # timestamps, dates, self-promotion: no sentiment
    ("who's watching in 2025?", 0),
    ("anyone here in 2025", 0),
    ("3:45 the part where he explains the setup", 0),
    ("check out my channel, I upload covers every week", 0),
    ("first", 0),
]


def _perturbations(text: str) -> list[str]:
    return [
        f"{text} https://youtu.be/dQw4w9WgXcQ",
        f"@someone123 {text}",
        text.upper(),
        text.lower(),
        f"  {text}  ",
    ]


@dataclass
class SuiteResult:
    name: str
    total: int
    failures: list[str] = field(default_factory=list)

    @property
    def pass_rate(self) -> float:
        return 1 - len(self.failures) / self.total if self.total else 1.0


def _frame(texts: list[str]) -> pd.DataFrame:
    return pd.DataFrame({TEXT_COLUMN: texts})


def _expected_labels(name: str, cases, model) -> SuiteResult:
    """Each (text, label) case must be predicted as its label."""
    texts, expected = zip(*cases, strict=True)
    predicted = np.asarray(model.predict(_frame(list(texts))))
    failures = [f"{t!r}: expected {e}, got {p}" for t, e, p in zip(texts, expected, predicted, strict=True)
                if int(p) != e]
    return SuiteResult(name, len(texts), failures)


def minimum_functionality(model) -> SuiteResult:
    return _expected_labels("minimum_functionality", MINIMUM_FUNCTIONALITY, model)


def invariance(model) -> SuiteResult:
    failures, total = [], 0
    for base in INVARIANCE_BASES:
        variants = _perturbations(base)
        predicted = np.asarray(model.predict(_frame([base, *variants])))
        for variant, label in zip(variants, predicted[1:], strict=True):
            total += 1
            if label != predicted[0]:
                failures.append(f"{base!r} -> {predicted[0]} but {variant!r} -> {label}")
    return SuiteResult("invariance", total, failures)


def directional(model) -> SuiteResult:
    positive = list(model.classes_).index(1)
    texts = [t for pair in DIRECTIONAL_PAIRS for t in pair]
    proba = np.asarray(model.predict_proba(_frame(texts)))[:, positive]
    failures = [f"P(positive) {proba[2 * i]:.2f} for {a!r} did not drop for {b!r} ({proba[2 * i + 1]:.2f})"
                for i, (a, b) in enumerate(DIRECTIONAL_PAIRS) if proba[2 * i + 1] >= proba[2 * i]]
    return SuiteResult("directional", len(DIRECTIONAL_PAIRS), failures)


def youtube_idiom(model) -> SuiteResult:
    return _expected_labels("youtube_idiom", YOUTUBE_IDIOM, model)


def run_all(model) -> list[SuiteResult]:
    return [minimum_functionality(model), invariance(model), directional(model), youtube_idiom(model)]
