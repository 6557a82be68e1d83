"""Stage ingest: the source catalogue in params.yaml -> one verified CSV of (text, label, source, group, weight).

Each source is read from its first location that exists (a local mirror path, then a public URL), its sha256 is
verified, its columns and label values are checked, its labels are mapped to -1/0/1, and it is capped if asked.
Any failure stops the stage with a message naming the source and the fix; nothing is written unless every source
passed, so DVC never caches a partial corpus.

The feedback people gave through the API (``make feedback-source`` exports it into ``feedback/``) is a source like
the others with two differences: it is ``optional`` (skipped, and recorded as skipped, while no export exists), and
its location may be a glob (``feedback/feedback-*.csv``: the newest export, by its dated name, holds all feedback
so far) whose sha256 is the one the export recorded in the file's JSON sidecar (``sha256: sidecar``).

Outputs: the combined CSV and a JSON provenance record (location used, sha256, rows per label) per source.
"""

from __future__ import annotations

import argparse
import glob
import logging
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd

from ytsentiment import YtSentimentError
from ytsentiment.config import Source, load_params
from ytsentiment.io import atomic_write, file_digest, read_json, write_json
from ytsentiment.logs import run_main

log = logging.getLogger(__name__)

COLUMNS = ["text", "label", "source", "group", "weight"]
DOWNLOAD_TIMEOUT_S = 60


def _is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def _download(url: str, into: Path) -> Path:
    target = into / Path(url.split("?")[0]).name
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp, target.open("wb") as fh:
        while block := resp.read(1 << 20):
            fh.write(block)
    return target


def _newest_match(pattern: str) -> str | None:
    """The last file matching a glob, by name (dated exports sort by date); the pattern itself when it has none."""
    if not any(ch in pattern for ch in "*?["):
        return pattern
    matches = sorted(p for p in glob.glob(pattern) if Path(p).is_file())
    return matches[-1] if matches else None


def fetch(source: Source, workdir: Path) -> tuple[Path, str] | None:
    """Return (local file, location used) for the first location that can be read; None for an absent optional
    source."""
    tried = []
    for pattern in source.locations:
        location = pattern if _is_url(pattern) else _newest_match(pattern)
        if location is None:
            tried.append(f"{pattern}: no matching file")
        elif _is_url(location):
            try:
                return _download(location, workdir), location
            except (urllib.error.URLError, OSError, ValueError) as exc:
                tried.append(f"{location}: {exc}")
        elif Path(location).is_file():
            return Path(location), location
        else:
            tried.append(f"{location}: no such file")
    if source.optional:
        return None
    raise YtSentimentError(
        f"source '{source.name}': no location could be read:\n  " + "\n  ".join(tried)
        + "\nFix: put the file at one of these paths (see ../shared/data/README.md), restore network access, "
        "or remove the source from ingest.sources in params.yaml."
    )


def expected_sha256(source: Source, path: Path, location: str) -> str:
    """The sha256 a source must have: from params.yaml, or (``sha256: sidecar``) from the file's JSON sidecar."""
    if not source.sha256_in_sidecar:
        return source.sha256.lower()
    sidecar = path.with_suffix(".json")
    try:
        recorded = read_json(sidecar)["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise YtSentimentError(
            f"source '{source.name}': {location} has no readable sidecar {sidecar.name} with its sha256 ({exc}).\n"
            "Fix: export it again with `make feedback-source` (it writes both files), or remove the CSV."
        ) from exc
    return str(recorded).lower()


def verify_checksum(source: Source, path: Path, location: str) -> str:
    actual = file_digest(path, "sha256")
    if actual != expected_sha256(source, path, location):
        raise YtSentimentError(
            f"source '{source.name}': sha256 mismatch for {location}\n"
            f"  expected {expected_sha256(source, path, location)}\n  actual   {actual}\n"
            "Fix: the file changed; restore the original, or if the new file is intended, review it and update "
            f"ingest.sources[{source.name}].sha256 in params.yaml (or, for an exported source, export it again)."
        )
    return actual


def _label_key(value) -> float | str:
    """Label values compare as numbers when they are numbers ("1", 1 and 1.0 alike), else as stripped text, so
    sources labelled "positive"/"negative" work too."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value).strip()


def read_source(source: Source, path: Path, seed: int) -> pd.DataFrame:
    """Read, check the schema, map labels, cap; returns the standard columns."""
    try:
        df = pd.read_csv(path, dtype={source.text_column: "string"}, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise YtSentimentError(f"source '{source.name}': {path} is not a readable CSV: {exc}") from exc
    missing = [c for c in (source.text_column, source.label_column) if c not in df.columns]
    if missing:
        raise YtSentimentError(
            f"source '{source.name}': missing column(s) {missing} in {path}; found {list(df.columns)}.\n"
            "Fix: correct text_column/label_column for this source in params.yaml."
        )
    mapping = {_label_key(k): int(v) for k, v in source.labels.items()}
    labels = df[source.label_column].map(_label_key)
    unknown = df.loc[~labels.isin(list(mapping)), source.label_column]
    if len(unknown):
        counts = unknown.astype(str).value_counts().head(5).to_dict()
        raise YtSentimentError(
            f"source '{source.name}': {len(unknown)} row(s) with label values outside "
            f"{sorted(source.labels, key=str)}: {counts}.\n"
            f"Fix: extend ingest.sources[{source.name}].labels in params.yaml or clean the file."
        )
    out = pd.DataFrame({
        "text": df[source.text_column].fillna(""),
        "label": labels.map(mapping).astype(int),
        "source": source.name,
        "group": source.group,
        "weight": float(source.weight),
    })
    if source.max_rows is not None and len(out) > source.max_rows:
        out = out.sample(n=source.max_rows, random_state=seed).sort_index()
    return out


def ingest(sources, seed: int) -> tuple[pd.DataFrame, list[dict]]:
    frames, provenance = [], []
    with tempfile.TemporaryDirectory(prefix="ytsentiment-ingest-") as tmp:
        for source in sources:
            found = fetch(source, Path(tmp))
            if found is None:
                provenance.append({"name": source.name, "group": source.group, "skipped": "optional, not present",
                                   "locations": list(source.locations)})
                log.info("source %-20s skipped: optional and not present (%s)", source.name,
                         ", ".join(source.locations))
                continue
            path, location = found
            digest = verify_checksum(source, path, location)
            df = read_source(source, path, seed)
            frames.append(df)
            provenance.append({
                "name": source.name, "group": source.group, "location": location, "sha256": digest,
                "rows": len(df), "labels": {str(k): int(v) for k, v in df["label"].value_counts().sort_index().items()},
                "weight": source.weight,
            })
            log.info("source %-20s %6d rows from %s", source.name, len(df), location)
    return pd.concat(frames, ignore_index=True)[COLUMNS], provenance


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--out", required=True, help="combined CSV")
    ap.add_argument("--provenance", required=True, help="JSON record of every source read")
    args = ap.parse_args(argv)
    params = load_params(args.params)
    combined, provenance = ingest(params.ingest.selected, params.seed)
    with atomic_write(args.out) as tmp:
        combined.to_csv(tmp, index=False)
    write_json(args.provenance, provenance)
    log.info("wrote %d rows from %d sources to %s", len(combined), len(provenance), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
