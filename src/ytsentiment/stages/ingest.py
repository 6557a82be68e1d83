"""Stage ingest: the source catalogue in params.yaml -> one verified CSV of (text, label, source, group, weight).

Each source's files are found and verified by ``ytsentiment.upstream`` (the local mirror, the download cache, then
the raw URL pinned to a commit; sha256 checked wherever they came from), read by the reader of their format, and
derived into -1/0/1 labels by the source's rules in params.yaml; then capped if asked. Any failure stops the stage
with a message naming the source and the fix; nothing is written unless every source passed, so DVC never caches a
partial corpus. The feedback export (``make feedback-source``) is an optional local source: skipped, and recorded
as skipped, while none exists.

Outputs: the combined CSV and a JSON provenance record per source (where each file came from, its sha256, rows
per label, what each rule dropped).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from pathlib import Path

import pandas as pd

from ytsentiment import YtSentimentError
from ytsentiment.config import IngestParams, Source, load_params
from ytsentiment.io import atomic_write, write_json
from ytsentiment.logs import run_main
from ytsentiment.upstream import READERS, derive, fetch_local, fetch_pinned

log = logging.getLogger(__name__)

COLUMNS = ["text", "label", "source", "group", "weight"]


def source_digest(file_digests: list[str]) -> str:
    """One sha256 for a source (the data tag of its MLflow run): its file's, or for several files the sha256 of
    their sha256s, one per line in catalogue order."""
    if len(file_digests) == 1:
        return file_digests[0]
    return hashlib.sha256("\n".join(file_digests).encode()).hexdigest()


def read_source(source: Source, seed: int, mirror: str = IngestParams.mirror,
                url: str = IngestParams.url) -> tuple[pd.DataFrame, dict] | None:
    """One source's rows in the standard columns and its provenance record; None for an absent optional source."""
    if source.format not in READERS:
        raise YtSentimentError(f"source '{source.name}': unknown format {source.format!r}; known: {sorted(READERS)}")
    if source.repo:
        found = [fetch_pinned(source, spec, Path(mirror), url) for spec in source.files]
    else:
        local = [fetch_local(source, spec) for spec in source.files]
        if any(f is None for f in local):
            if source.optional:
                return None
            raise YtSentimentError(f"source '{source.name}': no file matches "
                                   f"{[s.path for s in source.files]}.\nFix: create it, or remove the source from "
                                   "ingest.sources in params.yaml.")
        found = [f for f in local if f is not None]
    rows, dropped = derive(source, READERS[source.format](source, found))
    out = rows.assign(source=source.name, group=source.group, weight=float(source.weight))
    if source.max_rows is not None and len(out) > source.max_rows:
        dropped["over_max_rows"] = len(out) - source.max_rows
        out = out.sample(n=source.max_rows, random_state=seed).sort_index()
    record = {
        "name": source.name, "group": source.group, "weight": source.weight, "rows": len(out),
        "sha256": source_digest([f.sha256 for f in found]),
        "files": [{"location": f.location, "sha256": f.sha256} for f in found],
        "labels": {str(k): int(v) for k, v in out["label"].value_counts().sort_index().items()},
        "dropped": dropped,
    }
    return out[COLUMNS], record


def ingest(sources, seed: int, mirror: str = IngestParams.mirror,
           url: str = IngestParams.url) -> tuple[pd.DataFrame, list[dict]]:
    frames, provenance = [], []
    for source in sources:
        result = read_source(source, seed, mirror, url)
        if result is None:
            provenance.append({"name": source.name, "group": source.group, "skipped": "optional, not present",
                               "files": [s.path for s in source.files]})
            log.info("source %-20s skipped: optional and not present", source.name)
            continue
        frame, record = result
        frames.append(frame)
        provenance.append(record)
        log.info("source %-20s %6d rows (dropped %s)", source.name, len(frame), record["dropped"])
    return pd.concat(frames, ignore_index=True)[COLUMNS], provenance


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--out", required=True, help="combined CSV")
    ap.add_argument("--provenance", required=True, help="JSON record of every source read")
    args = ap.parse_args(argv)
    params = load_params(args.params)
    combined, provenance = ingest(params.ingest.selected, params.seed, params.ingest.mirror, params.ingest.url)
    with atomic_write(args.out) as tmp:
        combined.to_csv(tmp, index=False)
    write_json(args.provenance, provenance)
    log.info("wrote %d rows from %d sources to %s", len(combined), len(provenance), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main))
