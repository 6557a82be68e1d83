"""Behavioural checks of a sentiment model (after Ribeiro et al., CheckList), shared by the gate and the tests.

* minimum functionality: plain, unambiguous comments get the obvious label;
* invariance: URLs, @handles, case and surrounding whitespace do not change the label;
* directional: negating a clearly positive comment lowers its positive probability;
* YouTube idiom: slang ("slaps", "mid", "cringe"), W/L, 😭/💀 for laughter and joy, the way YouTube praises ("this
  one hits different", "masterpiece, no skips", "chef's kiss") and complains ("the title lied to me", "dislike and
  moving on", "so overrated"), their negations ("not overrated at all", "this isn't it") and sarcasm ("great,
  another 10 minute intro"), and short comments with no sentiment (timestamps, "part 2 when?", self-promotion).
  Written for the project, each with the label a person would give; ambiguous ones are left out. The training sets
  (tweets, Reddit) barely hold these. The model is improved on them by rules that generalise (``text.youtube_idiom``,
  ``model.YOUTUBE_LEXICON``), never by these sentences.

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
    # praise in YouTube's own words
    ("this one hits different", 1),
    ("masterpiece, no skips", 1),
    ("chef's kiss", 1),
    ("chef's kiss on the editing 👌", 1),
    ("absolute masterpiece", 1),
    ("this deserves way more views", 1),
    ("how does this only have 2k views", 1),
    ("instant sub", 1),
    ("subscribed after one video", 1),
    ("you just earned a new subscriber", 1),
    ("this channel never misses", 1),
    ("you never miss", 1),
    ("never disappoints", 1),
    ("my new favourite channel", 1),
    ("criminally underrated", 1),
    ("underrated gem", 1),
    ("pure gold", 1),
    ("10/10 would watch again", 1),
    ("been on repeat for a week", 1),
    ("I keep coming back to this song", 1),
    ("this never gets old", 1),
    ("worth every second", 1),
    ("the best 10 minutes of my day", 1),
    ("the production quality is unreal", 1),
    ("she ate and left no crumbs", 1),
    ("bro really cooked with this one", 1),
    ("he cooked", 1),
    ("the vibes are immaculate", 1),
    ("this is art", 1),
    ("thank you, this saved my exam", 1),
    ("legend for uploading this", 1),
    ("the drop at 2:30 is everything", 1),
    ("goosebumps every single time", 1),
    ("this is so wholesome", 1),
    # complaints in YouTube's own words
    ("the title lied to me", -1),
    ("what a waste of 20 minutes", -1),
    ("dislike and moving on", -1),
    ("so overrated", -1),
    ("clickbait", -1),
    ("clickbait title, zero content", -1),
    ("unsubscribed", -1),
    ("unsubbed after this one", -1),
    ("lost a subscriber", -1),
    ("aged like milk", -1),
    ("this channel fell off", -1),
    ("fell off hard", -1),
    ("I want my 20 minutes back", -1),
    ("ten minutes of ads and no content", -1),
    ("too many ads, can't even watch", -1),
    ("the audio is so bad I gave up", -1),
    ("worst upload this year", -1),
    ("this is painful to watch", -1),
    ("all hype, no substance", -1),
    ("ngl this was a letdown", -1),
    ("sellout", -1),
    ("boring, I fell asleep halfway", -1),
    ("mid at best", -1),
    ("this ain't it", -1),
    ("the quality dropped so much", -1),
    ("reported for misinformation", -1),
    ("nobody asked", -1),
    # negations: of praise, of complaints, and the ones that only look negative
    ("not gonna lie, this slaps", 1),
    ("not a single skip on this album", 1),
    ("no skips", 1),
    ("not overrated at all", 1),
    ("can't stop listening", 1),
    ("can't stop replaying the chorus", 1),
    ("I can't believe how good this is", 1),
    ("no way this only has 1k views", 1),
    ("this was not a waste of time at all", 1),
    ("not disappointed at all", 1),
    ("can't wait for the next one", 1),
    ("didn't expect to cry, beautiful video", 1),
    ("this doesn't hit the same anymore", -1),
    ("never clicking on this channel again", -1),
    ("not worth the watch", -1),
    ("not even mid, just bad", -1),
    ("this isn't it", -1),
    ("I don't get the hype", -1),
    ("not funny at all", -1),
    ("not a fan of the new format", -1),
    ("no hate but this was boring", -1),
    ("nothing new, same old content", -1),
    # sarcasm: praise words, a complaint meant
    ("wow, another sponsor segment, how original", -1),
    ("great, another 10 minute intro", -1),
    ("oh good, more clickbait", -1),
    ("thanks for wasting my time", -1),
    ("love how the title has nothing to do with the video", -1),
    ("amazing how you said nothing in 20 minutes", -1),
    ("thanks for the 5 minutes of ads", -1),
    ("what a surprise, another apology video", -1),
    # short comments with no sentiment
    ("part 2 when?", 0),
    ("what camera do you use?", 0),
    ("what's the song at 2:15?", 0),
    ("watching from Brazil", 0),
    ("anyone else here from the podcast?", 0),
    ("timestamps: 4:20 setup, 7:15 results", 0),
    ("the recipe is in the description", 0),
    ("where was this filmed?", 0),
    ("link to the full interview?", 0),
    ("is this the same song from the trailer?", 0),
    ("who else is watching on their phone", 0),
    ("day 47 of asking for a face reveal", 0),
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
