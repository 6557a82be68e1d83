"""The one text normaliser shared by training and serving.

``normalize(text)`` turns any comment into a space-separated string of tokens. It has to bring two very different
inputs to one form:

* the course's Reddit text, already lowercased with punctuation and words of <= 2 letters removed, and apostrophes
  split so that "don't" became "don";
* raw YouTube comments (the Data API's ``textDisplay`` is HTML) and tweets: case, URLs, @handles, HTML entities and
  tags, emoji, emoticons, elongations ("soooo"), contractions.

Signal that a naive cleaner throws away is kept as words: emoji become their English names ("😂" -> "face with tears
of joy"), emoticons become "smile"/"frown"/"love", and negation is marked on the words it scopes
("not good" -> "not neg_good"), so "not good" can never collapse into "good".

YouTube idiom the training sets barely hold is rewritten into words they hold plenty of (``youtube_idiom``, shared
with the VADER features): a standalone capital "W"/"L" ("W video", "L take") is "win"/"loss", and 😭/💀 in a comment
that also laughs or praises (😂, "lol", "beautiful", "love" ...) are laughter or joy, so they become 😂 and the
hyperbole around them ("I'm crying", "I'm dead") becomes "laughing".

Deterministic, no downloads, no state: the same function runs inside the served sklearn Pipeline.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable

import emoji

URL_TOKEN = "url"
USER_TOKEN = "user"
NEGATION_PREFIX = "neg_"
NEGATION_SCOPE = 3  # words after a negation that get the prefix (stops early at punctuation)

_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")  # "<br>", "<a href=...>": a letter after "<", so "<3" survives
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<!\w)@\w+")
_NAME_PLACEHOLDER = re.compile(r"\[name\]", re.IGNORECASE)  # GoEmotions anonymisation
_HASHTAG = re.compile(r"#(\w+)")

# Emoticons are matched on the original case (":D" differs from ":d" in intent); order matters: longest first.
# The third item lists characters of which every match holds at least one (``normalize`` skips the pattern when the
# text has none of them).
_EYES = ":;=8"
_EMOTICONS = [
    (re.compile(r"(?<!\S)(?:<3+|&lt;3+)(?!\S)"), "love", "3"),
    (re.compile(r"(?<![\w/])[:;=8][\-o\*']?[\)\]dDpP\}>]+(?!\w)"), "smile", _EYES),
    (re.compile(r"(?<![\w/])[\(\[\{<]+[\-o\*']?[:;=8](?!\w)"), "smile", _EYES),
    (re.compile(r"(?<!\w)\^_*\^(?!\w)"), "smile", "^"),
    (re.compile(r"(?<![\w/])(?:[:;=8][\-o']?[\(\[\{\\/|]+|[:;=8]'[\-o]?\()(?![\w/])"), "frown", _EYES),
    (re.compile(r"(?<![\w/])[\)\]]+[\-o']?[:;=8](?!\w)"), "frown", _EYES),
    (re.compile(r"(?<!\w)(?:x|X)D+(?!\w)"), "laugh", "D"),
    (re.compile(r"(?<!\S)(?:T_T|;_;|-_-)(?!\S)"), "frown", "_"),
]

# Negation contractions, covering raw text ("don't", "dont") and the course's stripped form ("don").
_CONTRACTIONS = {
    "can't": "can not", "cant": "can not", "cannot": "can not",
    "won't": "will not", "wont": "will not",
    "ain't": "is not", "aint": "is not",
    "shan't": "shall not",
}
_NT_STEMS = ["do", "does", "did", "is", "are", "was", "were", "have", "has", "had", "could", "would", "should",
             "must", "need", "might"]
for _stem in _NT_STEMS:
    _CONTRACTIONS[f"{_stem}n't"] = f"{_stem} not"
    _CONTRACTIONS[f"{_stem}nt"] = f"{_stem} not"
    _CONTRACTIONS[f"{_stem}n"] = f"{_stem} not"  # Reddit set: "don", "isn", "didn" ...
# "don" (the name), "haven" and "cant" (jargon) are real words too, but far rarer here than the contractions.
_CONTRACTION_RE = re.compile(
    r"(?<![\w'])(" + "|".join(sorted(map(re.escape, _CONTRACTIONS), key=len, reverse=True)) + r")(?![\w'])"
)

_CLITIC = re.compile(r"'(?:s|re|ve|ll|d|m)\b")  # "it's" -> "it", as in the course's Reddit text
NEGATIONS = frozenset({"not", "no", "never", "nor", "nothing", "nobody", "none", "neither", "nowhere", "without"})
_ELONGATION = re.compile(r"(\w)\1{2,}")
_TOKEN = re.compile(r"[^\W_]+|[.,!?;:]+")
# YouTube idiom (``youtube_idiom``). W/L only as a standalone capital: a lowercase "w" is "with" in tweets ("w/ you").
_WIN_LOSS = re.compile(r"(?<![\w/])([WL])(?![\w/'])")
_WIN_LOSS_WORDS = {"W": "win", "L": "loss"}
_OVERWHELMED_EMOJI = re.compile("[\U0001F62D\U0001F480]")  # 😭 loudly crying face, 💀 skull
_TEARS_OF_JOY = "\U0001F602"  # 😂
# Cues that the comment laughs or praises: then 😭/💀 mean "overwhelmed" by laughter or joy, not grief.
_JOY_CUE = re.compile(
    "[\U0001F602\U0001F923\u2764\U0001F60D\U0001F970\U0001F525\U0001F64C\U0001F44F]"  # 😂🤣❤😍🥰🔥🙌👏
    r"|\b(?:l+o+l+|lmf?ao+|rofl|(?:ha){2,}h?|(?:he){2,}|funn(?:y|iest)|hilarious|beautiful|gorgeous|love[ds]?|"
    r"loving|amazing|awesome|best|cute|adorable|perfect|wholesome|masterpiece|incredible|talented|proud|happy|"
    r"legend(?:ary)?|goat(?:ed)?|slaps|banger|underrated)\b",
    re.IGNORECASE,
)
_OVERWHELMED_WORDS = re.compile(r"\b(?:crying|cryin|dying|dead|screaming|sobbing)\b", re.IGNORECASE)


def youtube_idiom(text: str) -> str:
    """Rewrite YouTube idiom into words and emoji the training sets know (see the module docstring).

    Raw text in, raw text out (case and punctuation kept): both ``normalize`` and the VADER features call it.
    """
    if "W" in text or "L" in text:
        text = _WIN_LOSS.sub(lambda m: _WIN_LOSS_WORDS[m.group(1)], text)
    if not text.isascii() and _OVERWHELMED_EMOJI.search(text) and _JOY_CUE.search(text):
        text = _OVERWHELMED_WORDS.sub("laughing", _OVERWHELMED_EMOJI.sub(_TEARS_OF_JOY, text))
    return text


_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})


def _emoji_words(chars: str, data: dict) -> str:
    return _symbol(data["en"].strip(":").replace("_", " ").replace("-", " "))


def _symbol(words: str) -> str:
    # The "." on each side ends any negation scope: in "not funny 😂" the emoji is not negated.
    return f" . {words} . "


def normalize(text: object) -> str:
    """Return the canonical token string for one comment (empty string for missing or blank input)."""
    if not isinstance(text, str) or not text.strip():
        return ""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    # Each `in` test below skips a regex that cannot match. Most comments skip most of them, and a character test is
    # far cheaper than a regex pass: the normaliser takes a third less time (same output on all 182k source texts).
    if "<" in text:
        text = _TAG.sub(" ", text)
    text = html.unescape(text)
    text = youtube_idiom(text)
    text = _URL.sub(f" {URL_TOKEN} ", text)
    if "@" in text:
        text = _HANDLE.sub(f" {USER_TOKEN} ", text)
    if "[" in text:
        text = _NAME_PLACEHOLDER.sub(f" {USER_TOKEN} ", text)
    if "#" in text:
        text = _HASHTAG.sub(r" \1 ", text)
    for pattern, word, needs in _EMOTICONS:
        if any(c in text for c in needs):
            text = pattern.sub(_symbol(word), text)
    if not text.isascii():
        text = emoji.replace_emoji(text, replace=_emoji_words)
    text = text.casefold()
    if "n" in text:
        text = _CONTRACTION_RE.sub(lambda m: _CONTRACTIONS[m.group(1)], text)
    if "'" in text:
        text = _CLITIC.sub("", text)
    text = _ELONGATION.sub(r"\1\1", text)
    return " ".join(_mark_negation(_TOKEN.findall(text)))


def _mark_negation(tokens: list[str]) -> list[str]:
    out: list[str] = []
    scope = 0
    for token in tokens:
        if not token[0].isalnum():  # punctuation ends a negation scope and is then dropped
            scope = 0
            continue
        if token in NEGATIONS:
            out.append(token)
            scope = NEGATION_SCOPE
        elif scope:
            out.append(NEGATION_PREFIX + token)
            scope -= 1
        else:
            out.append(token)
    return out


def normalize_many(texts: Iterable[str]) -> list[str]:
    """Vectorised convenience: ``[normalize(t) for t in texts]``."""
    return [normalize(t) for t in texts]


# Public names for the debris patterns other modules strip the same way (the API's word cloud).
TAG_PATTERN, URL_PATTERN, HANDLE_PATTERN = _TAG, _URL, _HANDLE
