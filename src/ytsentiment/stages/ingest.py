"""Stage ingest: the source catalogue in params.yaml -> one verified CSV of (text, label, source, group, weight).

Each source is read from its first location that exists (a local mirror path, then a public URL), its sha256 is
verified, its columns and label values are checked, its labels are mapped to -1/0/1, and it is capped if asked.
Any failure stops the stage with a message naming the source and the fix; nothing is written unless every source
passed, so DVC never caches a partial corpus.

Outputs: the combined CSV and a JSON provenance record (location used, sha256, rows per label) per source.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd

from ytsentiment import YtSentimentError
from ytsentiment.config import Source, load_params
from ytsentiment.io import atomic_write, write_json
from ytsentiment.logs import run_main

log = logging.getLogger(__name__)

COLUMNS = ["text", "label", "source", "group", "weight"]
DOWNLOAD_TIMEOUT_S = 60


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def _download(url: str, into: Path) -> Path:
    target = into / Path(url.split("?")[0]).name
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp, target.open("wb") as fh:
        while block := resp.read(1 << 20):
            fh.write(block)
    return target


def fetch(source: Source, workdir: Path) -> tuple[Path, str]:
    """Return (local file, location used) for the first location that can be read."""
    tried = []
    for location in source.locations:
        if _is_url(location):
            try:
                return _download(location, workdir), location
            except (urllib.error.URLError, OSError, ValueError) as exc:
                tried.append(f"{location}: {exc}")
        elif Path(location).is_file():
            return Path(location), location
        else:
            tried.append(f"{location}: no such file")
    raise YtSentimentError(
        f"source '{source.name}': no location could be read:\n  " + "\n  ".join(tried)
        + "\nFix: put the file at one of these paths (see ../shared/data/README.md), restore network access, "
        "or remove the source from ingest.sources in params.yaml."
    )


def verify_checksum(source: Source, path: Path, location: str) -> str:
    actual = sha256_of(path)
    if actual != source.sha256.lower():
        raise YtSentimentError(
            f"source '{source.name}': sha256 mismatch for {location}\n  expected {source.sha256}\n  actual   {actual}\n"
            "Fix: the file changed; restore the original, or if the new file is intended, review it and update "
            f"ingest.sources[{source.name}].sha256 in params.yaml."
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
            path, location = fetch(source, Path(tmp))
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
