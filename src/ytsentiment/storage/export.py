"""Feedback -> a training source: ``feedback-YYYY-MM-DD.csv`` (``text,label``, a local csv source)
and a JSON sidecar (the CSV's sha256 for the ingest catalogue, row counts, what was dropped and why).

Feedback is untrusted input, so the export is conservative, in this order:
1. only feedback with a text can be exported (the text sent with it, or the prediction's logged text);
2. one vote per (client, text): a client's latest label for a text counts, earlier ones are dropped;
3. no client weighs more than ``max_per_client`` rows (its earliest ones are kept);
4. per text, the labels of different clients must agree: the majority label is exported only when its share of the
   votes is at least ``min_agreement`` (default 1.0, i.e. any conflict drops the text) and it is not a tie.
   Dropped texts are listed in the sidecar by hash only.
The output is sorted (by text, then label) and the sidecar has no clock time, so the same database content gives
byte-identical files.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from ytsentiment.io import atomic_write, write_json
from ytsentiment.storage.models import Feedback, Prediction, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def _votes(engine: Engine) -> list[dict]:
    from sqlalchemy import func, select

    query = (select(Feedback.id, Feedback.client_id, Feedback.text_sha256, Feedback.label,
                    func.coalesce(Feedback.updated_at, Feedback.created_at).label("at"),
                    func.coalesce(Feedback.text, Prediction.text).label("text"))
             .outerjoin(Prediction, Feedback.prediction_id == Prediction.id))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def select_rows(votes: list[dict], max_per_client: int, min_agreement: float) -> tuple[list[tuple[str, int]], dict]:
    """The pure part: feedback votes -> sorted (text, label) rows and the report of what was dropped."""
    total = len(votes)
    with_text = [v for v in votes if v["text"] is not None and v["text"].strip()]
    latest: dict[tuple[str, str], dict] = {}
    for v in sorted(with_text, key=lambda v: (v["at"], v["id"])):
        latest[(v["client_id"], v["text_sha256"])] = v  # later votes of a client on the same text win
    by_client: dict[str, list[dict]] = defaultdict(list)
    for v in sorted(latest.values(), key=lambda v: (v["at"], v["id"])):
        by_client[v["client_id"]].append(v)
    kept, capped_clients, over_cap = [], 0, 0
    for client in sorted(by_client):
        rows = by_client[client]
        if len(rows) > max_per_client:
            capped_clients += 1
            over_cap += len(rows) - max_per_client
        kept += rows[:max_per_client]
    by_text: dict[str, list[dict]] = defaultdict(list)
    for v in kept:
        by_text[v["text_sha256"]].append(v)
    out, conflicting, conflicting_votes = [], [], 0
    for digest, vs in by_text.items():
        tally = Counter(v["label"] for v in vs).most_common()
        label, top = tally[0]
        tie = len(tally) > 1 and tally[1][1] == top
        if tie or top / len(vs) < min_agreement:
            conflicting.append(digest)
            conflicting_votes += len(vs)
            continue
        out.append((vs[0]["text"], int(label)))
    out.sort()
    report = {
        "feedback_rows": total,
        "clients": len(by_client),
        "clients_capped": capped_clients,
        "dropped": {
            "no_text": total - len(with_text),
            "repeated_votes": len(with_text) - len(latest),
            "over_client_cap": over_cap,
            "conflicting_votes": conflicting_votes,
            "conflicting_texts": len(conflicting),
        },
        "conflicting_sha256": sorted(conflicting),
    }
    return out, report


def export_feedback(engine: Engine, out_dir: str | Path, *, max_per_client: int, min_agreement: float,
                    day: date | None = None) -> dict:
    """Write ``feedback-<day>.csv`` and ``feedback-<day>.json`` into ``out_dir``; returns the sidecar's content."""
    if max_per_client < 1:
        raise ValueError("max_per_client must be >= 1")
    if not 0.5 <= min_agreement <= 1:
        raise ValueError("min_agreement must be between 0.5 and 1")
    day = day or utcnow().date()
    rows, report = select_rows(_votes(engine), max_per_client, min_agreement)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    data = buffer.getvalue().encode("utf-8")
    out_dir = Path(out_dir)
    csv_path = out_dir / f"feedback-{day.isoformat()}.csv"
    with atomic_write(csv_path) as tmp:
        tmp.write_bytes(data)
    sidecar = {
        "csv": csv_path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "date": day.isoformat(),
        "rows": len(rows),
        "labels": {str(k): n for k, n in sorted(Counter(label for _, label in rows).items())},
        "max_per_client": max_per_client,
        "min_agreement": min_agreement,
        **report,
    }
    write_json(csv_path.with_suffix(".json"), sidecar)
    return sidecar
