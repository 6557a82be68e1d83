"""`ytsentiment feedback export --out DIR`: feedback -> feedback-YYYY-MM-DD.csv + JSON sidecar (storage.export)."""

from __future__ import annotations

import argparse
from datetime import date

from ytsentiment import YtSentimentError
from ytsentiment.storage.commands import migrated_engine
from ytsentiment.storage.export import export_feedback
from ytsentiment.storage.settings import StorageSettings


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="feedback_command", required=True)
    p = sub.add_parser("export", help="write the exportable feedback as a dated CSV (text,label) + JSON sidecar")
    p.add_argument("--out", required=True, help="directory for feedback-YYYY-MM-DD.csv and .json")
    p.add_argument("--max-per-client", type=int, default=None,
                   help="most rows one voter (address, else client) contributes (default "
                        "FEEDBACK_EXPORT_MAX_PER_CLIENT, 200)")
    p.add_argument("--min-agreement", type=float, default=None,
                   help="share of voters that must agree on a text's label, 0.5-1 (default "
                        "FEEDBACK_EXPORT_MIN_AGREEMENT, 1.0: any conflict drops the text)")
    p.add_argument("--burst", type=int, default=None,
                   help="most votes of one voter in 60 s; every vote of a busier span is dropped (default "
                        "FEEDBACK_EXPORT_BURST, 10)")
    p.add_argument("--date", type=_day, default=None, help="date in the file names (default: today, UTC)")


def run(args) -> int:
    settings = StorageSettings.from_env()
    max_per_client = args.max_per_client or settings.export_max_per_client
    min_agreement = settings.export_min_agreement if args.min_agreement is None else args.min_agreement
    burst = args.burst or settings.export_burst
    if max_per_client < 1 or not 0.5 <= min_agreement <= 1 or burst < 1:
        raise YtSentimentError("feedback export: --max-per-client and --burst must be >= 1 and --min-agreement in "
                               "[0.5, 1]")
    engine = migrated_engine()
    try:
        report = export_feedback(engine, args.out, max_per_client=max_per_client, min_agreement=min_agreement,
                                 burst=burst, day=args.date)
    finally:
        engine.dispose()
    dropped = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report["dropped"].items())
    print(f"exported {report['rows']} rows to {args.out}/{report['csv']} (sha256 {report['sha256']}); "
          f"from {report['feedback_rows']} feedback rows, dropped: {dropped}")
    return 0
