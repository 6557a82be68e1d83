"""`ytsentiment purge --older-than 30d`: apply the retention window to the prediction log (see storage.retention)."""

from __future__ import annotations

from ytsentiment.storage.commands import migrated_engine
from ytsentiment.storage.retention import parse_window, purge
from ytsentiment.storage.settings import StorageSettings


def add_arguments(parser) -> None:
    parser.add_argument("--older-than", default=None,
                        help="Nd or Nh (default: PREDICTION_LOG_RETENTION_DAYS days, 30d)")
    parser.add_argument("--text-only", action="store_true",
                        help="keep the rows (hashes, descriptors, answers), only blank their raw text")
    parser.add_argument("--feedback-text", action="store_true",
                        help="also blank the text of feedback older than the window (kept by default)")


def run(args) -> int:
    window = args.older_than or f"{StorageSettings.from_env().retention_days}d"
    older_than = parse_window(window)
    engine = migrated_engine()
    try:
        result = purge(engine, older_than, text_only=args.text_only, feedback_text=args.feedback_text)
    finally:
        engine.dispose()
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in result.items() if k != "cutoff")
    print(f"purged what was older than {window} (before {result['cutoff']}): {counts}")
    return 0
