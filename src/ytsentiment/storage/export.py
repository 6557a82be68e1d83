"""Feedback -> a training source: ``feedback-YYYY-MM-DD.csv`` (``text,label``, a local csv source)
and a JSON sidecar (the CSV's sha256 for the ingest catalogue, row counts, what was dropped and why).

Feedback is untrusted input, so the export is conservative, in this order. A *voter* is the sender's address (its
hash) when it was stored, else the client id, so rotating client ids from one address buys no extra votes:
1. only feedback with a text can be exported (the text sent with it, or the prediction's logged text);
2. one vote per (voter, text): a voter's latest label for a text counts, earlier ones are dropped;
3. bursts are dropped: every vote of a voter that falls in a 60-second span holding more than ``burst`` of its votes;
4. no voter weighs more than ``max_per_client`` rows (its earliest ones are kept);
5. per text, the labels of different voters must agree: the majority label is exported only when its share of the
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
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ytsentiment.io import atomic_write, write_json
from ytsentiment.storage.models import Feedback, Prediction, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

BURST_SPAN = timedelta(seconds=60)


def _votes(engine: Engine) -> list[dict]:
    from sqlalchemy import func, select

    query = (select(Feedback.id, Feedback.client_id, Feedback.address, Feedback.text_sha256, Feedback.label,
                    func.coalesce(Feedback.updated_at, Feedback.created_at).label("at"),
                    func.coalesce(Feedback.text, Prediction.text).label("text"))
             .outerjoin(Prediction, Feedback.prediction_id == Prediction.id))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def _voter(vote: dict) -> str:
    return f"address:{vote['address']}" if vote.get("address") else f"client:{vote['client_id']}"


def _outside_bursts(rows: list[dict], burst: int) -> list[dict]:
    """``rows`` (one voter's, by time) without every row inside a span of BURST_SPAN holding more than ``burst``."""
    in_burst, start = [False] * len(rows), 0
    for end, row in enumerate(rows):
        while row["at"] - rows[start]["at"] > BURST_SPAN:
            start += 1
        if end - start + 1 > burst:
            in_burst[start:end + 1] = [True] * (end - start + 1)
    return [row for row, dropped in zip(rows, in_burst, strict=True) if not dropped]


def select_rows(votes: list[dict], max_per_client: int, min_agreement: float,
                burst: int) -> tuple[list[tuple[str, int]], dict]:
    """The pure part: feedback votes -> sorted (text, label) rows and the report of what was dropped."""
    total = len(votes)
    with_text = [v for v in votes if v["text"] is not None and v["text"].strip()]
    latest: dict[tuple[str, str], dict] = {}
    for v in sorted(with_text, key=lambda v: (v["at"], v["id"])):
        latest[(_voter(v), v["text_sha256"])] = v  # later votes of a voter on the same text win
    by_client: dict[str, list[dict]] = defaultdict(list)
    for v in sorted(latest.values(), key=lambda v: (v["at"], v["id"])):
        by_client[_voter(v)].append(v)
    kept, capped_clients, over_cap, bursts = [], 0, 0, 0
    for client in sorted(by_client):
        calm = _outside_bursts(by_client[client], burst)
        bursts += len(by_client[client]) - len(calm)
        rows = calm
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
        "voters": len(by_client),
        "clients_capped": capped_clients,
        "dropped": {
            "no_text": total - len(with_text),
            "repeated_votes": len(with_text) - len(latest),
            "in_bursts": bursts,
            "over_client_cap": over_cap,
            "conflicting_votes": conflicting_votes,
            "conflicting_texts": len(conflicting),
        },
        "conflicting_sha256": sorted(conflicting),
    }
    return out, report


def export_feedback(engine: Engine, out_dir: str | Path, *, max_per_client: int, min_agreement: float,
                    burst: int, day: date | None = None) -> dict:
    """Write ``feedback-<day>.csv`` and ``feedback-<day>.json`` into ``out_dir``; returns the sidecar's content."""
    if max_per_client < 1:
        raise ValueError("max_per_client must be >= 1")
    if not 0.5 <= min_agreement <= 1:
        raise ValueError("min_agreement must be between 0.5 and 1")
    if burst < 1:
        raise ValueError("burst must be >= 1")
    day = day or utcnow().date()
    rows, report = select_rows(_votes(engine), max_per_client, min_agreement, burst)
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
        "burst": burst,
        **report,
    }
    write_json(csv_path.with_suffix(".json"), sidecar)
    return sidecar
