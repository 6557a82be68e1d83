"""PNG charts for the extension, free of Flask: sentiment pie, word cloud, monthly trend.

Served by ``ytsentiment.api.blueprints.charts``. The word cloud strips URLs, @handles and HTML tags with the
normaliser's own patterns (``ytsentiment.text``).

Figures are built with ``matplotlib.figure.Figure`` on the Agg canvas, never through pyplot, so there is no
global figure state to leak or race between threads. Empty inputs (no counts, no words left) give a labelled
placeholder image rather than an error: "nothing to show" is a fact about the video, not a client mistake.
"""

from __future__ import annotations

import html
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot; this server never has a display

import matplotlib.dates as mdates  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from ytsentiment.contract import CLASSES, LABELS  # noqa: E402
from ytsentiment.text import HANDLE_PATTERN, TAG_PATTERN, URL_PATTERN  # noqa: E402

COLORS = {-1: "#d62728", 0: "#7f7f7f", 1: "#2ca02c"}
NAMES = {value: name.capitalize() for value, name in LABELS.items()}
DPI = 100
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
    classes = [c for c in CLASSES[::-1] if counts.get(c, 0) > 0]
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
    text = html.unescape(TAG_PATTERN.sub(" ", text))
    return HANDLE_PATTERN.sub(" ", URL_PATTERN.sub(" ", text))


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


def _utc_naive(moment: datetime) -> datetime:
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def monthly_counts(points: Sequence[tuple[datetime, int]]) -> pd.DataFrame:
    """Comments of each class per calendar month (rows: month ends, every month from the first to the last;
    columns -1, 0, 1; empty months 0).

    Month arithmetic is numpy ``datetime64[M]`` and the index microsecond-resolution, so any year 1..9999 works
    (pandas 2's nanosecond timestamps and ``resample`` stop at 1677..2262). Month boundaries are UTC months.
    """
    stamps = np.array([_utc_naive(moment) for moment, _ in points], dtype="datetime64[us]")
    sentiments = np.array([sentiment for _, sentiment in points])
    month = stamps.astype("datetime64[M]")
    first = month.min()
    span = np.arange(first, month.max() + 1)  # every month from the first to the last, empty ones included
    position = (month - first).astype(int)
    counts = np.zeros((len(span), len(CLASSES)))
    for column, cls in enumerate(CLASSES):
        np.add.at(counts[:, column], position[sentiments == cls], 1)
    month_ends = ((span + 1).astype("datetime64[D]") - 1).astype("datetime64[us]")
    return pd.DataFrame(counts.astype(int), index=pd.DatetimeIndex(month_ends), columns=list(CLASSES))


def monthly_shares(points: Sequence[tuple[datetime, int]]) -> pd.DataFrame:
    """Percentage of each class per calendar month (rows: month ends; columns -1, 0, 1; empty months NaN)."""
    counts = monthly_counts(points)
    totals = counts.to_numpy().sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(totals > 0, counts.to_numpy() / totals * 100, np.nan)
    return pd.DataFrame(shares, index=counts.index, columns=list(CLASSES))


MAX_ANNOTATED_MONTHS = 36  # beyond that, per-month markers and counts would overlap


def trend_figure(points: Sequence[tuple[datetime, int]], min_month_comments: int = 10) -> Figure:
    """Line chart of the monthly share of negative / neutral / positive comments.

    Each month's comment count is written under its point (up to MAX_ANNOTATED_MONTHS months). A month with fewer
    than ``min_month_comments`` comments is *sparse*: its share is noisy, so its markers are hollow and its
    column is shaded (the same threshold as /analyze's ``months[].sparse``).
    """
    counts = monthly_counts(points)
    totals = counts.sum(axis=1)
    shares = monthly_shares(points)[totals > 0]  # months without comments have no share; lines bridge them
    totals = totals[totals > 0]
    # Plot at the month's start, labelled "Jan 2024" (python datetimes: matplotlib's range is year 1..9999).
    months = [m.astype(datetime) for m in shares.index.values.astype("datetime64[M]").astype("datetime64[us]")]
    sparse = (totals < min_month_comments).to_numpy()
    annotate = len(months) <= MAX_ANNOTATED_MONTHS
    fig = Figure(figsize=(10, 5))
    ax = fig.add_subplot()
    for cls in CLASSES[::-1]:
        ax.plot(months, shares[cls], color=COLORS[cls], label=NAMES[cls], linewidth=2)
        if annotate:
            values = shares[cls].to_numpy()
            dense_x = [m for m, s in zip(months, sparse, strict=True) if not s]
            sparse_x = [m for m, s in zip(months, sparse, strict=True) if s]
            ax.plot(dense_x, values[~sparse], linestyle="none", marker="o", color=COLORS[cls], gid="dense")
            ax.plot(sparse_x, values[sparse], linestyle="none", marker="o", markerfacecolor="white",
                    markeredgecolor=COLORS[cls], markeredgewidth=1.5, gid="sparse")
    half_month = timedelta(days=14)
    for month, is_sparse in zip(months, sparse, strict=True):
        if is_sparse and datetime.min + half_month < month < datetime.max - half_month:
            ax.axvspan(month - half_month, month + half_month, color="#999999", alpha=0.15, linewidth=0)
    if annotate:
        for month, total, is_sparse in zip(months, totals.to_numpy(), sparse, strict=True):
            ax.text(month, -5, f"n={int(total):,}", ha="center", va="center", fontsize=8, gid="month-count",
                    color="#b22222" if is_sparse else "#444444")
    ax.set_title(f"Monthly sentiment share ({len(points):,} comments)", fontsize=14)
    ax.set_xlabel("Month (UTC); n = the month's comments")
    ax.set_ylabel("Share of the month's comments (%)")
    ax.set_ylim(-9, 102)
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    handles = [h for h, label in zip(handles, labels, strict=True) if not label.startswith("_")]
    if sparse.any():
        handles.append(Patch(facecolor="#999999", alpha=0.3, label=f"sparse: fewer than {min_month_comments} "
                                                                     "comments (hollow markers)"))
    ax.legend(handles=handles, loc="best", fontsize=9)
    locator: mdates.DateLocator = mdates.AutoDateLocator(minticks=2, maxticks=12)
    if (months[-1] - months[0]).days <= 3 * 366:
        n_months = (months[-1].year - months[0].year) * 12 + months[-1].month - months[0].month + 1
        locator = mdates.MonthLocator(interval=max(1, n_months // 12))
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
    # Explicit limits: autoscale margins would leave matplotlib's year 1..9999 range for extreme dates.
    pad = timedelta(days=45 if len(months) == 1 else 15)
    low, high = months[0], months[-1]
    left = low - pad if low - datetime.min > pad else datetime.min
    right = high + pad if datetime.max - high > pad else datetime.max
    ax.set_xlim(left, right)  # type: ignore[arg-type]  # datetimes: matplotlib's date converter takes them
    fig.autofmt_xdate()
    return fig


def trend_png(points: Sequence[tuple[datetime, int]], min_month_comments: int = 10) -> bytes:
    """``trend_figure`` as a PNG."""
    return _png(trend_figure(points, min_month_comments))
