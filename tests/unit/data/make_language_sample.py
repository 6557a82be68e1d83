"""Write ``languages.csv``: a labelled multilingual sample for the language identifier (deterministic; seed 7).

Sources, both human-written and labelled by construction:
- non-English: translated user-interface messages (``msgstr``) from the gettext catalogues that Debian packages
  install under ``/usr/share/locale/<lang>/LC_MESSAGES/*.mo``; the catalogue's folder is the label;
- English: the same catalogues' original messages (``msgid``), plus English YouTube comments from the human-labelled
  Thelwall set in ``../shared/data/human/`` (that set is not perfectly English; the few Spanish or Tagalog comments in
  it were relabelled by hand below, from reading them).
Only texts of 4+ words (CJK: 15+ characters) without format specifiers, options or paths are kept.
Run ``python tests/unit/data/make_language_sample.py`` to regenerate; the CSV is committed.
"""

from __future__ import annotations

import csv
import gettext
import glob
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
THELWALL = HERE.parents[2] / ".." / "shared" / "data" / "human" / "youtube_thelwall_ss_binary.csv"
LANGS = ["es", "pt_BR", "fr", "de", "it", "ru", "ja", "ko", "zh_CN", "tr", "id", "vi", "pl", "nl", "ar", "hi", "uk",
         "sv"]
PER_LANG = 40
ENGLISH_UI, ENGLISH_COMMENTS = 200, 300
# Thelwall comments that are not English (read by hand); their label is corrected, not dropped.
RELABEL = {"Excelente el video... me fascina...gracias": "es"}
_UNWANTED = re.compile(r"%|\$|\{|\}|--|\\|_|<|>|\t|\n|http|\.\.\.|[A-Z]{3,}|/")


def _catalogue_pairs(lang: str) -> list[tuple[str, str]]:
    pairs = set()
    for mo in sorted(glob.glob(f"/usr/share/locale/{lang}/LC_MESSAGES/*.mo")):
        with open(mo, "rb") as fh:
            try:
                catalog = gettext.GNUTranslations(fh)._catalog
            except (OSError, UnicodeDecodeError):  # a few old catalogues are not UTF-8
                continue
        for msgid, msgstr in catalog.items():
            if not (isinstance(msgid, str) and isinstance(msgstr, str)) or not msgstr or msgstr == msgid:
                continue
            if _UNWANTED.search(msgid) or _UNWANTED.search(msgstr) or not 15 <= len(msgstr) <= 160:
                continue
            if len(msgstr.split()) < 4 and lang not in ("ja", "zh_CN", "ko"):
                continue
            pairs.add((msgid.strip(), msgstr.strip()))
    return sorted(pairs)


def main() -> None:
    rng = random.Random(7)
    rows, english_ui = [], set()
    for lang in LANGS:
        pairs = _catalogue_pairs(lang)
        for _msgid, msgstr in rng.sample(pairs, PER_LANG):
            rows.append((lang.split("_")[0], "gettext", msgstr))
        english_ui.update(m for m, _ in pairs if len(m.split()) >= 4)
    rows += [("en", "gettext", m) for m in rng.sample(sorted(english_ui), ENGLISH_UI)]
    with THELWALL.open(encoding="utf-8") as fh:
        comments = sorted({r["text"] for r in csv.DictReader(fh) if len(r["text"]) <= 300})
    rows += [(RELABEL.get(t, "en"), "youtube", t) for t in rng.sample(comments, ENGLISH_COMMENTS)]
    with (HERE / "languages.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["lang", "source", "text"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {HERE / 'languages.csv'}")


if __name__ == "__main__":
    main()
