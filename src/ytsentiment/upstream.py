"""Training sources from their public upstream files: find each file, verify it, read it in its own format.

A file pinned as ``(repo, commit, path, sha256)`` is looked for, in order, in the local mirror
(``MIRROR/OWNER/REPO/PATH``), in the download cache (``$UPSTREAM_CACHE_DIR/OWNER/REPO/COMMIT/PATH``) and at the raw
URL pinned to the commit; its sha256 is verified wherever it came from, and a download is cached only once verified.
A source without ``repo`` names local files (globs allowed: the newest match by name is used), such as the feedback
export, whose sha256 may be recorded in the file's JSON sidecar (``sha256: sidecar``).

One reader per upstream format turns the verified files into ``(text, label)`` rows with the label as the file
spells it; ``derive`` then applies the source's rules from params.yaml (labels to drop, label mapping) and the rules
every source shares: whitespace collapsed, empty texts dropped, repeated texts merged to their majority label (a tie
drops the text).
"""

from __future__ import annotations

import csv
import glob
import hashlib
import html
import os
import pickle
import re
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ytsentiment import YtSentimentError
from ytsentiment.config import ProjectSettings, Source, SourceFile
from ytsentiment.io import file_digest, read_json

DOWNLOAD_TIMEOUT_S = 60


def cache_dir() -> Path:
    """Where verified downloads are kept (``UPSTREAM_CACHE_DIR``; CI caches this folder between runs)."""
    return Path(ProjectSettings.from_env().upstream_cache_dir).expanduser()


@dataclass(frozen=True)
class Found:
    path: Path  # the verified bytes to read (for an archive member: the member itself)
    location: str  # where they came from, for the provenance record
    sha256: str


# ---- finding and verifying files ---------------------------------------------------------------------------------

def _digest_matches(path: Path, sha256: str) -> bool:
    return file_digest(path, "sha256") == sha256.lower()


def _download(url: str, target: Path, sha256: str) -> None:
    """Fetch ``url`` into ``target`` atomically, only if its bytes have the pinned sha256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:
            while block := resp.read(1 << 20):
                fh.write(block)
        actual = file_digest(tmp, "sha256")
        if actual != sha256.lower():
            raise YtSentimentError(f"sha256 mismatch for {url}\n  expected {sha256}\n  actual   {actual}\n"
                                   "Fix: the upstream file changed; review it and update its sha256 (and commit) in "
                                   "params.yaml, or restore the pinned version.")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _extract_member(archive: Path, member: str, sha256: str, target: Path) -> None:
    with tarfile.open(archive, "r:gz") as tar:
        try:
            data = tar.extractfile(member)
        except KeyError:
            data = None
        if data is None:
            raise YtSentimentError(f"{archive}: no file member {member!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        payload = data.read()
    actual = hashlib.sha256(payload).hexdigest()
    if actual != sha256.lower():
        raise YtSentimentError(f"{archive}: member {member} has sha256 {actual}, expected {sha256}")
    target.write_bytes(payload)


def fetch_pinned(source: Source, spec: SourceFile, mirror: Path, url_template: str) -> Found:
    """A pinned upstream file (or its archive member), verified: mirror, then cache, then the raw URL."""
    assert source.repo and source.commit
    want_path = f"{spec.path}.members/{spec.member}" if spec.member else spec.path
    want_sha = spec.member_sha256 if spec.member else spec.sha256
    assert want_sha
    mirrored = mirror / source.repo / want_path
    tried = []
    if mirrored.is_file():
        if _digest_matches(mirrored, want_sha):
            return Found(mirrored, str(mirrored), want_sha)
        tried.append(f"{mirrored}: sha256 differs from the pinned {want_sha}")
    else:
        tried.append(f"{mirrored}: no such file")
    cached = cache_dir() / source.repo / source.commit / want_path
    if cached.is_file() and _digest_matches(cached, want_sha):
        return Found(cached, str(cached), want_sha)
    url = url_template.format(repo=source.repo, commit=source.commit, path=spec.path)
    try:
        if spec.member:
            with tempfile.TemporaryDirectory(prefix="ytsentiment-archive-") as tmp:
                archive = Path(tmp) / Path(spec.path).name
                _download(url, archive, spec.sha256)
                _extract_member(archive, spec.member, want_sha, cached)
        else:
            _download(url, cached, spec.sha256)
        return Found(cached, url, want_sha)
    except (urllib.error.URLError, OSError, ValueError, tarfile.TarError) as exc:
        tried.append(f"{url}: {exc}")
    raise YtSentimentError(
        f"source '{source.name}': {spec.path} could not be read:\n  " + "\n  ".join(tried)
        + "\nFix: restore network access to the raw URL, or put the upstream file at the mirror path "
        "(ingest.mirror in params.yaml)."
    )


def _newest_match(pattern: str) -> str | None:
    """The last file matching a glob, by name (dated exports sort by date); the pattern itself when it has none."""
    if not any(ch in pattern for ch in "*?["):
        return pattern if Path(pattern).is_file() else None
    matches = sorted(p for p in glob.glob(pattern) if Path(p).is_file())
    return matches[-1] if matches else None


def _sidecar_sha256(source: Source, path: Path) -> str:
    sidecar = path.with_suffix(".json")
    try:
        return str(read_json(sidecar)["sha256"]).lower()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise YtSentimentError(
            f"source '{source.name}': {path} has no readable sidecar {sidecar.name} with its sha256 ({exc}).\n"
            "Fix: export it again with `make feedback-source` (it writes both files), or remove the CSV."
        ) from exc


def fetch_local(source: Source, spec: SourceFile) -> Found | None:
    """A local file (newest glob match), verified against its pinned or sidecar sha256; None when absent."""
    location = _newest_match(spec.path)
    if location is None:
        return None
    path = Path(location)
    want = _sidecar_sha256(source, path) if spec.sha256 == "sidecar" else spec.sha256.lower()
    actual = file_digest(path, "sha256")
    if actual != want:
        raise YtSentimentError(
            f"source '{source.name}': sha256 mismatch for {location}\n  expected {want}\n  actual   {actual}\n"
            "Fix: the file changed; restore the original, or if the new file is intended, review it and update "
            f"the sha256 of ingest.sources[{source.name}] in params.yaml (or, for an exported source, export it "
            "again)."
        )
    return Found(path, location, actual)


# ---- one reader per upstream format ------------------------------------------------------------------------------
# Each takes the source and its verified files and returns (text, label) rows, the label as the file spells it.

_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_QUOTED = re.compile(r'"((?:[^"]|"")*)"')


def _semeval_text(text: str) -> str:
    """SemEval text as written: ``\\uXXXX`` escapes decoded, HTML entities decoded, and a text that is one whole
    CSV-quoted field (wrapped in quotes, inner quotes doubled) unquoted once."""
    text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    quoted = _QUOTED.fullmatch(text)
    if quoted:
        text = quoted.group(1).replace('""', '"')
    return html.unescape(text)


def read_semeval_tsv(source: Source, files: list[Found]) -> pd.DataFrame:
    """SemEval Task 4A TSV: ``id<TAB>label<TAB>text[<TAB>…]``, no header, no quoting convention."""
    rows = []
    for found in files:
        for n, line in enumerate(found.path.read_text(encoding="utf-8").split("\n"), 1):
            if not line.strip():
                continue
            parts = line.rstrip("\r").split("\t")
            if len(parts) < 3:
                raise YtSentimentError(f"source '{source.name}': {found.location} line {n} has {len(parts)} "
                                       "tab-separated fields, expected id, label, text")
            rows.append((_semeval_text(parts[2]), parts[1]))
    return pd.DataFrame(rows, columns=["text", "label"])


def read_goemotions_tsv(source: Source, files: list[Found]) -> pd.DataFrame:
    """GoEmotions group TSVs (``text<TAB>ids<TAB>comment id``) and ``labels.txt`` (line n names id n).

    A row's label is its group name; a multi-label row whose groups differ gets ``+``-joined names (e.g.
    ``negative+positive``), which params.yaml maps or drops like any other label."""
    by_name = {Path(f.path).name: f for f in files}
    names_file = by_name.pop("labels.txt", None)
    if names_file is None:
        raise YtSentimentError(f"source '{source.name}': goemotions_tsv needs the file labels.txt")
    names = names_file.path.read_text(encoding="utf-8").split("\n")
    rows = []
    for found in by_name.values():
        frame = pd.read_csv(found.path, sep="\t", header=None, names=["text", "ids", "id"], dtype=str,
                            quoting=csv.QUOTE_NONE, keep_default_na=False, encoding="utf-8")
        for text, ids in zip(frame["text"], frame["ids"], strict=True):
            groups = sorted({names[int(i)] for i in ids.split(",")})
            rows.append((text, "+".join(groups)))
    return pd.DataFrame(rows, columns=["text", "label"])


def read_csv_file(source: Source, files: list[Found]) -> pd.DataFrame:
    """A delimited file with a text and a label column; ``read:`` options are pandas.read_csv's (``sep``,
    ``encoding``, ``skiprows``, ``header``, ``names``, ``quotechar``)."""
    options = {"encoding": "utf-8", **dict(source.read)}
    if not source.text_column or not source.label_column:
        raise YtSentimentError(f"source '{source.name}': format csv needs text_column and label_column")
    frames = []
    for found in files:
        try:
            frame = pd.read_csv(found.path, dtype=str, keep_default_na=False, **options)
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise YtSentimentError(f"source '{source.name}': {found.location} is not a readable CSV with "
                                   f"{options}: {exc}") from exc
        missing = [c for c in (source.text_column, source.label_column) if c not in frame.columns]
        if missing:
            raise YtSentimentError(
                f"source '{source.name}': missing column(s) {missing} in {found.location}; found "
                f"{list(frame.columns)}.\nFix: correct text_column/label_column for this source in params.yaml."
            )
        frames.append(pd.DataFrame({"text": frame[source.text_column], "label": frame[source.label_column]}))
    return pd.concat(frames, ignore_index=True)


def read_vader_ground_truth(source: Source, files: list[Found]) -> pd.DataFrame:
    """VADER's ``*_GroundTruth.txt``: ``id<TAB>mean rating<TAB>text``; the label is ``positive`` at a mean of at
    least ``read.threshold``, ``negative`` at most minus it, else ``neutral``."""
    threshold = float(source.read.get("threshold", 0.5))
    rows = []
    for found in files:
        for line in found.path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            _, mean, text = line.split("\t", 2)
            value = float(mean)
            label = "positive" if value >= threshold else "negative" if value <= -threshold else "neutral"
            rows.append((text, label))
    return pd.DataFrame(rows, columns=["text", "label"])


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain containers and the two numpy types DeepMoji's files reference; any other global is refused,
    so a tampered file cannot run code (the sha256 is checked before, too)."""

    ALLOWED = {("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused to load {module}.{name} from a data file")
        import numpy

        return numpy.dtype if name == "dtype" else numpy._core.multiarray.scalar  # type: ignore[attr-defined]


def read_deepmoji_pickle(source: Source, files: list[Found]) -> pd.DataFrame:
    """DeepMoji's ``raw.pickle``: ``{"texts": [...], "info": [{"label": int}, ...], ...}``."""
    rows: list[tuple[str, str]] = []
    for found in files:
        with found.path.open("rb") as fh:
            try:
                data = _NumpyOnlyUnpickler(fh, encoding="latin1").load()
            except (pickle.UnpicklingError, EOFError, ValueError) as exc:
                raise YtSentimentError(f"source '{source.name}': {found.location}: {exc}") from exc
        texts, info = data["texts"], data["info"]
        rows.extend((str(text), str(int(item["label"]))) for text, item in zip(texts, info, strict=True))
    return pd.DataFrame(rows, columns=["text", "label"])


READERS: dict[str, Callable[[Source, list[Found]], pd.DataFrame]] = {
    "csv": read_csv_file,
    "semeval_tsv": read_semeval_tsv,
    "goemotions_tsv": read_goemotions_tsv,
    "vader_ground_truth": read_vader_ground_truth,
    "deepmoji_pickle": read_deepmoji_pickle,
}


# ---- the derivation rules ------------------------------------------------------------------------------------------

def _label_key(value) -> str:
    """Labels compare as text, numbers in one spelling ("1", "1.0" and 1 alike)."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else str(number)


def derive(source: Source, raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Raw ``(text, label)`` rows -> ``(text, label -1/0/1)`` by the source's rules; returns the rows and what was
    dropped by each rule (for the provenance record)."""
    keys = raw["label"].map(_label_key)
    drop = {_label_key(v) for v in source.drop_labels}
    mapping = {_label_key(k): int(v) for k, v in source.labels.items()}
    unknown = raw.loc[~keys.isin(drop) & ~keys.isin(list(mapping)), "label"]
    if len(unknown):
        counts = unknown.astype(str).value_counts().head(5).to_dict()
        raise YtSentimentError(
            f"source '{source.name}': {len(unknown)} row(s) with label values outside "
            f"{sorted(mapping)} (dropped: {sorted(drop)}): {counts}.\n"
            f"Fix: map them in ingest.sources[{source.name}].labels or list them in drop_labels in params.yaml."
        )
    kept = raw.loc[~keys.isin(drop)]
    frame = pd.DataFrame({"text": kept["text"].map(lambda t: " ".join(str(t).split())),
                          "label": keys[~keys.isin(drop)].map(mapping).astype(int)})
    empty = frame["text"] == ""
    frame = frame.loc[~empty]
    # Repeated texts: the majority label wins, a tie drops the text; the first occurrence keeps its place.
    votes = frame.groupby(["text", "label"], sort=False).size().reset_index(name="n")
    top = votes.groupby("text", sort=False)["n"].transform("max")
    winners = votes.loc[votes["n"] == top]
    tied = winners["text"].duplicated(keep=False)
    label_of = winners.loc[~tied].set_index("text")["label"]
    first = frame.drop_duplicates("text", keep="first")
    out = first.loc[first["text"].isin(label_of.index), ["text"]].copy()
    out["label"] = out["text"].map(label_of).astype(int)
    dropped = {"labels_dropped": int(len(raw) - len(kept)), "empty": int(empty.sum()),
               "repeats_merged": int(len(frame) - len(first)),
               "ties_dropped": int(winners.loc[tied, "text"].nunique())}
    return out.reset_index(drop=True), dropped
