"""PNG charts for the extension: sentiment pie, word cloud, monthly trend.

Figures are built with ``matplotlib.figure.Figure`` on the Agg canvas, never through pyplot, so there is no
global figure state to leak or race between threads. Empty inputs (no counts, no words left) give a labelled
placeholder image rather than an error: "nothing to show" is a fact about the video, not a client mistake.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot; this server never has a display

import matplotlib.dates as mdates  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

COLORS = {-1: "#d62728", 0: "#7f7f7f", 1: "#2ca02c"}
NAMES = {-1: "Negative", 0: "Neutral", 1: "Positive"}
DPI = 100

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<!\w)@\w+")
_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")
# Placeholders and web debris that carry no meaning in a cloud, on top of wordcloud's English stopwords.
EXTRA_STOPWORDS = {"url", "user", "http", "https", "www", "com", "br", "quot", "amp", "video", "s", "t"}


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def _placeholder(title: str, message: str) -> bytes:
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title(title, fontsize=14)
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="#555555", transform=ax.transAxes)
    return _png(fig)


def sentiment_pie(counts: Mapping[int, int]) -> bytes:
    """Pie of comment counts per class (keys -1, 0, 1), labelled with names, counts and percentages."""
    classes = [c for c in (1, 0, -1) if counts.get(c, 0) > 0]
    total = sum(counts.get(c, 0) for c in classes)
    if not total:
        return _placeholder("Comment sentiment", "No comments to chart")
    fig = Figure(figsize=(6, 6))
    ax = fig.add_subplot()
    sizes = [float(counts[c]) for c in classes]
    labels = [f"{NAMES[c]} ({counts[c]:,})" for c in classes]
    ax.pie(sizes, labels=labels, colors=[COLORS[c] for c in classes],
           autopct="%1.1f%%", startangle=90, counterclock=False, wedgeprops={"edgecolor": "white"},
           textprops={"fontsize": 12})
    ax.set_title(f"Comment sentiment ({total:,} comments)", fontsize=14)
    ax.axis("equal")
    return _png(fig)


def _cloud_text(comments: Iterable[str]) -> str:
    text = " ".join(comments)
    text = html.unescape(_TAG.sub(" ", text))
    return _HANDLE.sub(" ", _URL.sub(" ", text))


def wordcloud_png(comments: Sequence[str], width: int = 800, height: int = 400) -> bytes:
    """Word cloud of the comments with English stopwords, URLs and @handles removed."""
    from wordcloud import STOPWORDS, WordCloud

    cloud = WordCloud(width=width, height=height, background_color="white", colormap="Dark2",
                      stopwords=STOPWORDS | EXTRA_STOPWORDS, collocations=False, max_words=150,
                      random_state=0)
    words = cloud.process_text(_cloud_text(comments))
    if not words:
        return _placeholder("Most common words", "No words left after removing stopwords")
    cloud.generate_from_frequencies(words)
    buffer = io.BytesIO()
    cloud.to_image().save(buffer, format="PNG")
    return buffer.getvalue()


def monthly_shares(points: Sequence[tuple[datetime, int]]) -> pd.DataFrame:
    """Percentage of each class per calendar month (rows: month ends; columns -1, 0, 1; empty months NaN)."""
    frame = pd.DataFrame(points, columns=["timestamp", "sentiment"])
    # UTC-aware datetimes in, naive UTC out: month boundaries are UTC months.
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).dt.tz_localize(None)
    onehot = pd.get_dummies(frame["sentiment"]).reindex(columns=[-1, 0, 1], fill_value=False).astype(int)
    counts = onehot.set_axis(pd.DatetimeIndex(frame["timestamp"])).sort_index().resample("ME").sum()
    totals = counts.sum(axis=1)
    return counts.div(totals.where(totals > 0), axis=0) * 100


def trend_png(points: Sequence[tuple[datetime, int]]) -> bytes:
    """Line chart of the monthly share of negative / neutral / positive comments."""
    shares = monthly_shares(points).dropna()  # months without comments have no share; lines bridge them
    months = shares.index.to_period("M").to_timestamp()  # plot at the month's start, labelled "Jan 2024"
    fig = Figure(figsize=(10, 5))
    ax = fig.add_subplot()
    marker = "o" if len(shares) <= 36 else None
    for cls in (1, 0, -1):
        ax.plot(months, shares[cls], color=COLORS[cls], label=NAMES[cls], marker=marker, linewidth=2)
    ax.set_title(f"Monthly sentiment share ({len(points):,} comments)", fontsize=14)
    ax.set_xlabel("Month (UTC)")
    ax.set_ylabel("Share of the month's comments (%)")
    ax.set_ylim(-2, 102)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    locator = mdates.AutoDateLocator(minticks=2, maxticks=12)
    if (months[-1] - months[0]).days <= 3 * 366:
        n_months = len(pd.period_range(months[0], months[-1], freq="M"))
        locator = mdates.MonthLocator(interval=max(1, n_months // 12))
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
    # Explicit limits: autoscale margins would leave matplotlib's year 1..9999 range for extreme dates.
    pad = timedelta(days=45 if len(months) == 1 else 15)
    low, high = months[0].to_pydatetime(), months[-1].to_pydatetime()
    ax.set_xlim(low - pad if low - datetime.min > pad else datetime.min,
                high + pad if datetime.max - high > pad else datetime.max)
    fig.autofmt_xdate()
    return _png(fig)
