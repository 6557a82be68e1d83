"""`ytsentiment load`: scored comments of a channel -> aggregates in the database, for one run date.

Input: the output of ``ytsentiment score`` (a Parquet file or a Spark output directory) over ``collect``'s rows:
video_id, comment_id, published_at, like_count, author_channel_id, channel_id, text, sentiment, confidence,
model_name, model_version. Output: the tables of ``ytsentiment.storage.batch_models`` (migration ``0002``):

- per video and per month (UTC, of publishedAt): comment count, class counts and shares, mean sentiment, the
  like-weighted score (weights ``1 + log1p(likes)``), total likes, unique commenters, first and last comment;
- the most-liked comments per video and per month (``--top``), and the channel's most-liked positive and negative
  ones (``--top-channel``).

Idempotent: the load is keyed by (channel id, ``--date``); re-loading deletes that key's rows and inserts the new
ones in ONE transaction, so a retried or re-run day never doubles anything and a failure leaves the previous load.
Memory: aggregation reads only the numeric and id columns; texts are read for the top comments alone.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ytsentiment import YtSentimentError
from ytsentiment.batch.inputs import partitioning
from ytsentiment.storage.batch_models import ChannelLoad, MonthlyAggregate, TopComment, VideoAggregate
from ytsentiment.storage.db import make_engine, safe_url, session_scope
from ytsentiment.storage.migrate import upgrade

log = logging.getLogger(__name__)

CHANNEL_ID = re.compile(r"UC[A-Za-z0-9_-]{22}")
NEEDED = ("video_id", "comment_id", "published_at", "like_count", "author_channel_id", "sentiment", "confidence",
          "model_name", "model_version")
DEFAULT_TOP = 3
DEFAULT_TOP_CHANNEL = 5


def like_weights(likes):
    """``1 + log1p(max(likes, 0))``: 0 likes -> 1, 10 -> 3.4, 10,000 -> 10.2."""
    import numpy as np

    return 1.0 + np.log1p(np.clip(np.asarray(likes, dtype=np.float64), 0, None))


def parse_date(text: str | None) -> date:
    """``YYYY-MM-DD`` (the Airflow ``{{ ds }}``); today (UTC) when not given."""
    if not text:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise YtSentimentError(f"--date {text!r} is not a date: use YYYY-MM-DD (the run date, e.g. {{{{ ds }}}})") \
            from exc


# ---- reading --------------------------------------------------------------------------------------------------

def read_scores(path: str | Path, channel_ref: str):
    """The scored rows of one channel (without texts) and its channel id.

    ``channel_ref`` is a UC… id (rows of other channels are left out) or an @handle (the rows must then hold
    exactly one channel).
    """
    import pandas as pd
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    path = Path(path)
    if not path.exists():
        raise YtSentimentError(f"scores not found at {path}: run `ytsentiment score` first")
    dataset = ds.dataset(str(path), format="parquet", partitioning=partitioning(path))
    missing = [c for c in NEEDED if c not in dataset.schema.names]
    if missing:
        raise YtSentimentError(f"{path}: missing columns {missing}; expected `ytsentiment score` output over "
                               f"`ytsentiment collect` rows (columns: {dataset.schema.names})")
    columns = list(NEEDED) + (["channel_id"] if "channel_id" in dataset.schema.names else [])
    is_id = bool(CHANNEL_ID.fullmatch(channel_ref))
    filter_ = pc.field("channel_id") == channel_ref if is_id and "channel_id" in columns else None
    frame = dataset.to_table(columns=columns, filter=filter_).to_pandas()
    if frame.empty:
        raise YtSentimentError(f"{path}: no scored comments for channel {channel_ref}")
    if is_id:
        channel_id = channel_ref
    else:
        found = sorted(frame["channel_id"].dropna().unique()) if "channel_id" in frame else []
        if len(found) != 1:
            raise YtSentimentError(f"{path}: channel {channel_ref} is not an id and the rows hold channels {found}: "
                                   "pass the UC… channel id")
        channel_id = found[0]
    frame["video_id"] = frame["video_id"].astype(str)
    frame["like_count"] = frame["like_count"].fillna(0).astype("int64")
    frame["published_at"] = pd.to_datetime(frame["published_at"], utc=True)
    return frame, channel_id


def read_texts(path: str | Path, comment_ids: list[str]) -> dict[str, str]:
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    if not comment_ids:
        return {}
    table = ds.dataset(str(path), format="parquet", partitioning=partitioning(Path(path))).to_table(
        columns=["comment_id", "text"], filter=pc.field("comment_id").isin(comment_ids))
    return {cid: text or "" for cid, text in zip(table.column("comment_id").to_pylist(),
                                                  table.column("text").to_pylist(), strict=True)}


# ---- aggregating ----------------------------------------------------------------------------------------------

def figures(frame, key: str):
    """One row of figures per value of ``key`` (a column of ``frame``): see ``batch_models._Figures``."""
    import pandas as pd

    f = frame.assign(
        _neg=(frame["sentiment"] == -1).astype("int64"), _neu=(frame["sentiment"] == 0).astype("int64"),
        _pos=(frame["sentiment"] == 1).astype("int64"), _w=like_weights(frame["like_count"]),
    )
    f["_ws"] = f["_w"] * f["sentiment"].astype("float64")
    g = f.groupby(key, sort=True)
    out = pd.DataFrame({
        "n_comments": g.size(), "n_negative": g["_neg"].sum(), "n_neutral": g["_neu"].sum(),
        "n_positive": g["_pos"].sum(), "mean_sentiment": g["sentiment"].mean().astype("float64"),
        "like_weighted_score": g["_ws"].sum() / g["_w"].sum(), "total_likes": g["like_count"].sum(),
        "unique_commenters": g["author_channel_id"].nunique(),
        "first_published_at": g["published_at"].min(), "last_published_at": g["published_at"].max(),
    })
    for name in ("negative", "neutral", "positive"):
        out[f"share_{name}"] = out[f"n_{name}"] / out["n_comments"]
    return out.reset_index()


def top_comments(frame, key: str | None, k: int, scope: str):
    """The ``k`` most-liked rows per value of ``key`` (all rows when None); ties: earlier comment first."""
    ordered = frame.sort_values(["like_count", "published_at", "comment_id"], ascending=[False, True, True])
    if key is None:
        top = ordered.head(k).assign(scope_key="")
    else:
        top = ordered.groupby(key, sort=False).head(k).assign(scope_key=lambda d: d[key].astype(str))
    top = top.assign(scope=scope)
    top["rank"] = top.groupby("scope_key").cumcount() + 1
    return top


@dataclass(frozen=True)
class Aggregates:
    videos: Any  # DataFrame, one row per video
    months: Any  # DataFrame, one row per YYYY-MM
    top: Any     # DataFrame of top comments (scope, scope_key, rank, ...)


def aggregate(frame, top: int = DEFAULT_TOP, top_channel: int = DEFAULT_TOP_CHANNEL) -> Aggregates:
    import pandas as pd

    frame = frame.assign(month=frame["published_at"].dt.strftime("%Y-%m"))
    tops = [top_comments(frame, "video_id", top, "video"), top_comments(frame, "month", top, "month"),
            top_comments(frame[frame["sentiment"] == 1], None, top_channel, "positive"),
            top_comments(frame[frame["sentiment"] == -1], None, top_channel, "negative")]
    return Aggregates(figures(frame, "video_id"), figures(frame, "month"), pd.concat(tops, ignore_index=True))


# ---- the database ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LoadResult:
    channel_id: str
    run_date: date
    n_comments: int
    n_videos: int
    n_months: int
    n_top: int


def _records(df, columns) -> list[dict[str, Any]]:
    import pandas as pd

    out = []
    for row in df[list(columns)].itertuples(index=False):
        rec = {}
        for name, value in zip(columns, row, strict=True):
            if isinstance(value, pd.Timestamp):
                value = None if pd.isna(value) else value.to_pydatetime()
            elif hasattr(value, "item"):
                value = value.item()
            rec[name] = value
        out.append(rec)
    return out


FIGURES = ("n_comments", "n_negative", "n_neutral", "n_positive", "share_negative", "share_neutral",
           "share_positive", "mean_sentiment", "like_weighted_score", "total_likes", "unique_commenters",
           "first_published_at", "last_published_at")
TOP_COLUMNS = ("scope", "scope_key", "rank", "comment_id", "video_id", "text", "like_count", "sentiment",
               "confidence", "published_at")


def store(engine, channel_id: str, channel_ref: str, run_date: date, agg: Aggregates, model: tuple[str, str],
          source: str, n_comments: int) -> LoadResult:
    """Replace the load (channel_id, run_date) with ``agg``: delete + insert in one transaction."""
    from sqlalchemy import delete, insert

    key = {"channel_id": channel_id, "run_date": run_date}
    videos = [{**key, **r} for r in _records(agg.videos, ("video_id", *FIGURES))]
    months = [{**key, **r} for r in _records(agg.months, ("month", *FIGURES))]
    top = [{**key, **r} for r in _records(agg.top, TOP_COLUMNS)]
    with session_scope(engine) as session:
        for table in (TopComment, MonthlyAggregate, VideoAggregate, ChannelLoad):
            session.execute(delete(table).where(table.channel_id == channel_id, table.run_date == run_date))
        session.add(ChannelLoad(**key, channel_ref=channel_ref, loaded_at=datetime.now(UTC), model_name=model[0],
                                model_version=model[1], n_comments=n_comments, n_videos=len(videos),
                                source=source))
        session.flush()
        for table, rows in ((VideoAggregate, videos), (MonthlyAggregate, months), (TopComment, top)):
            if rows:
                session.execute(insert(table), rows)
    return LoadResult(channel_id, run_date, n_comments, len(videos), len(months), len(top))


def load(scores: str | Path, channel_ref: str, run_date: date, engine, top: int = DEFAULT_TOP,
         top_channel: int = DEFAULT_TOP_CHANNEL) -> LoadResult:
    """Read, aggregate and store one channel's scored comments for ``run_date``."""
    frame, channel_id = read_scores(scores, channel_ref)
    agg = aggregate(frame, top, top_channel)
    texts = read_texts(scores, agg.top["comment_id"].astype(str).unique().tolist())
    agg.top["text"] = agg.top["comment_id"].map(texts).fillna("")
    names = sorted(frame["model_name"].dropna().astype(str).unique())
    versions = sorted(frame["model_version"].dropna().astype(str).unique())
    return store(engine, channel_id, channel_ref, run_date, agg, (",".join(names), ",".join(versions)),
                 str(scores), len(frame))


# ---- CLI ------------------------------------------------------------------------------------------------------

def add_arguments(parser) -> None:
    parser.add_argument("scores", help="output of `ytsentiment score` (Parquet file or directory)")
    parser.add_argument("--channel", required=True, help="UC… channel id (or @handle when the rows hold one channel)")
    parser.add_argument("--date", default=None, help="run date YYYY-MM-DD, the load's key (default: today, UTC)")
    parser.add_argument("--top", type=int, default=DEFAULT_TOP, help="most-liked comments kept per video and month")
    parser.add_argument("--top-channel", type=int, default=DEFAULT_TOP_CHANNEL,
                        help="most-liked positive and negative comments kept for the channel")
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL, else sqlite:///var/ytsentiment.db")


def run(args) -> int:
    run_date = parse_date(args.date)
    upgrade(args.database_url)
    engine = make_engine(args.database_url)
    try:
        result = load(args.scores, args.channel, run_date, engine, args.top, args.top_channel)
    finally:
        engine.dispose()
    print(f"loaded {result.n_comments} comments of {result.channel_id} for {result.run_date}: {result.n_videos} "
          f"videos, {result.n_months} months, {result.n_top} top comments -> {safe_url(args.database_url)}")
    return 0
