"""Which language a comment is written in, so comments the model cannot read are counted apart, not misread.

The model is trained on English text; a Spanish or Japanese comment goes through the English normaliser and
vocabulary and usually comes out "neutral", which skews every share computed over a multilingual video. This module
tells them apart with CLD2 (``pycld2``: Google's Compact Language Detector 2, its model compiled into the package, no
download at run time; ``make bench-api`` reports its cost per comment).

``identify(text)`` returns an ISO 639-1 code (``"en"``, ``"es"``, ``"ja"`` …) or ``UNDETERMINED`` (``"und"``).
It is deliberately conservative, because throwing an English comment out is worse than scoring a foreign one:

- a text with fewer than ``MIN_LETTERS`` letters once URLs, @handles and HTML tags are removed ("lol", "W", an
  emoji, a name, a timestamp) is ``und`` and is scored as usual;
- a text mostly in a non-Latin script (Cyrillic, CJK, Arabic, Devanagari, Hangul …) is never English: CLD2's best
  guess names it even when CLD2 does not call its guess reliable;
- otherwise CLD2 must call its guess reliable, else ``und``.

``is_supported(code)``: English and undetermined texts are scored into the shares; everything else is reported as
"in another language". ``tests/unit/test_language.py`` holds the floors it must keep on a labelled multilingual
sample (``tests/unit/fixtures/languages.csv``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import pycld2

SUPPORTED = frozenset({"en"})
UNDETERMINED = "und"
MIN_LETTERS = 16  # Latin-script texts: fewer letters, or fewer words, and CLD2 guesses ("Merry Christmas": Danish)
MIN_WORDS = 3
MIN_SCRIPT_LETTERS = 4  # a mostly non-Latin text needs only this many letters: its script already rules out English
_NON_LATIN_SHARE = 0.5

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<!\w)@\w+")
_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")
# CLD2 names informal English "Scots" now and then ("She is truly stunning!"): an English model reads it.
_SAME_AS = {"sco": "en"}
_ELONGATION = re.compile(r"(\w)\1{2,}")  # "AHAHAHHH", "sooooo": CLD2 reads long runs as another language
_CLD2_UNKNOWN = {"un", "xx", "xxx", "zzb", "zzh", "zzp"}  # CLD2's "unknown" and pseudo-language codes
_BEYOND_LATIN_BLOCKS = re.compile(r"[^\x00-\u024f]")  # past Latin Extended-B: the only place non-Latin letters are


def _letters(text: str) -> tuple[int, int]:
    """(letters, letters outside the Latin script). In C where it can be: most comments are ASCII."""
    letters = sum(map(str.isalpha, text))
    non_latin = sum(1 for ch in _BEYOND_LATIN_BLOCKS.findall(text)
                    if ch.isalpha() and not unicodedata.name(ch, "").startswith("LATIN"))
    return letters, non_latin


def identify(text: str) -> str:
    """ISO 639-1 code of ``text``'s language, or ``"und"`` when it is too short or unclear to say."""
    stripped = text
    # each pattern only where its one required character can be (most comments have none: 2.3 of 13 us saved)
    if "://" in stripped or "www." in stripped.lower():
        stripped = _URL.sub(" ", stripped)
    if "@" in stripped:
        stripped = _HANDLE.sub(" ", stripped)
    if "<" in stripped:
        stripped = _TAG.sub(" ", stripped)
    stripped = _ELONGATION.sub(r"\1\1", stripped)
    letters, non_latin = _letters(stripped)
    script_says_foreign = non_latin >= MIN_SCRIPT_LETTERS and non_latin / max(letters, 1) >= _NON_LATIN_SHARE
    if not script_says_foreign and (letters < MIN_LETTERS or len(stripped.split()) < MIN_WORDS):
        return UNDETERMINED
    try:
        reliable, _, details = pycld2.detect(stripped, isPlainText=True, bestEffort=True)
    except (pycld2.error, UnicodeEncodeError):  # lone surrogates and the like: say nothing rather than guess
        return UNDETERMINED
    code = details[0][1].split("-")[0].lower() if details else "un"
    code = _SAME_AS.get(code, code)
    if code in _CLD2_UNKNOWN:
        return UNDETERMINED
    if script_says_foreign:
        return UNDETERMINED if code == "en" else code
    return code if reliable else UNDETERMINED


def identify_all(texts: Iterable[str]) -> list[str]:
    return [identify(t) for t in texts]


def is_supported(code: str) -> bool:
    """True when the model can read a text in this language (English, or not determined)."""
    return code == UNDETERMINED or code in SUPPORTED
