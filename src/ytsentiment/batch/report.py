"""`ytsentiment report`: one channel's loaded aggregates -> a self-contained HTML page.

Reads the database (``ytsentiment load`` wrote it): the channel's load for ``--date`` (default: its latest), and
renders per-video bars (class shares, like-weighted score), the monthly trend (an inline SVG of class shares with
each month's comment count; months with fewer than ``--min-month-comments`` comments are hatched and labelled), and
the channel's most-liked positive and negative comments.

Comments are untrusted text: everything is rendered through Jinja2 with autoescaping (``<script>`` shows as the
characters ``<script>``), and the page's Content-Security-Policy allows no script at all, so even a rendering bug
could not run one. No CDN, no external font or image: the file is all there is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ytsentiment import YtSentimentError
from ytsentiment.batch.aggregate import parse_date
from ytsentiment.io import atomic_write
from ytsentiment.storage.batch_models import ChannelLoad, MonthlyAggregate, TopComment, VideoAggregate
from ytsentiment.storage.db import make_engine
from ytsentiment.storage.migrate import upgrade

log = logging.getLogger(__name__)

DEFAULT_MIN_MONTH_COMMENTS = 30
MAX_VIDEOS = 60
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


@dataclass(frozen=True)
class ReportData:
    load: dict[str, Any]
    videos: list[dict[str, Any]]
    months: list[dict[str, Any]]
    positive: list[dict[str, Any]]
    negative: list[dict[str, Any]]


def _rows(session, table, channel_id: str, run_date: date, *order) -> list[dict[str, Any]]:
    from sqlalchemy import select

    query = select(table).where(table.channel_id == channel_id, table.run_date == run_date).order_by(*order)
    cols = [c.key for c in table.__table__.columns]
    return [{c: getattr(obj, c) for c in cols} for obj in session.scalars(query)]


def fetch(engine, channel: str, run_date: date | None = None) -> ReportData:
    """The load of ``channel`` (UC… id or the @handle it was loaded as) for ``run_date`` (default: the latest)."""
    from sqlalchemy import or_, select
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        query = select(ChannelLoad).where(or_(ChannelLoad.channel_id == channel, ChannelLoad.channel_ref == channel))
        if run_date is not None:
            query = query.where(ChannelLoad.run_date == run_date)
        load = session.scalars(query.order_by(ChannelLoad.run_date.desc(), ChannelLoad.loaded_at.desc())).first()
        if load is None:
            when = f" for {run_date}" if run_date else ""
            raise YtSentimentError(f"no load of channel {channel}{when} in the database: run `ytsentiment load "
                                   f"SCORES --channel {channel}` first (or check DATABASE_URL)")
        cid, day = load.channel_id, load.run_date
        videos = _rows(session, VideoAggregate, cid, day, VideoAggregate.n_comments.desc(), VideoAggregate.video_id)
        months = _rows(session, MonthlyAggregate, cid, day, MonthlyAggregate.month)
        top = _rows(session, TopComment, cid, day, TopComment.scope, TopComment.rank)
        info = {c.key: getattr(load, c.key) for c in ChannelLoad.__table__.columns}
    return ReportData(info, videos, months, [t for t in top if t["scope"] == "positive"],
                      [t for t in top if t["scope"] == "negative"])


# ---- rendering ------------------------------------------------------------------------------------------------

COLORS = {"negative": "#d9534f", "neutral": "#9aa0a6", "positive": "#2e9d5b"}

TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Comment sentiment: {{ load.channel_ref }} ({{ load.run_date }})</title>
<style>
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #202124;
         background: #f6f7f9; }
  main { max-width: 1040px; margin: 0 auto; padding: 24px; }
  h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 10px; }
  .meta { color: #5f6368; margin: 0 0 16px; }
  .card { background: #fff; border: 1px solid #e3e5e8; border-radius: 8px; padding: 16px; }
  .kpis { display: flex; gap: 12px; flex-wrap: wrap; }
  .kpi { flex: 1 1 150px; } .kpi b { display: block; font-size: 22px; } .kpi span { color: #5f6368; }
  .legend span { display: inline-flex; align-items: center; margin-right: 14px; color: #5f6368; }
  .legend i { width: 12px; height: 12px; border-radius: 2px; display: inline-block; margin-right: 5px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #eef0f2; vertical-align: middle; }
  th { color: #5f6368; font-weight: 600; font-size: 12px; } td.num, th.num { text-align: right; }
  .bar { display: flex; height: 14px; width: 100%; min-width: 160px; border-radius: 3px; overflow: hidden;
         background: #eee; }
  .bar div { height: 100%; }
  .few { color: #b06000; font-size: 12px; }
  .comments { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
  .comment { border-left: 4px solid; padding: 6px 10px; margin: 0 0 10px; background: #fafbfc; }
  .comment p { margin: 0 0 4px; white-space: pre-wrap; overflow-wrap: anywhere; }
  .comment small { color: #5f6368; }
  code { font-size: 12px; }
</style>
</head>
<body>
<main>
<h1>Comment sentiment of {{ load.channel_ref }}</h1>
<p class="meta">Channel <code>{{ load.channel_id }}</code> · run {{ load.run_date }} · model {{ load.model_name }}
  v{{ load.model_version }} · loaded {{ load.loaded_at.strftime("%Y-%m-%d %H:%M UTC") }}</p>

<div class="card kpis">
  <div class="kpi"><b>{{ "{:,}".format(load.n_comments) }}</b><span>comments</span></div>
  <div class="kpi"><b>{{ load.n_videos }}</b><span>videos</span></div>
  {% for name in names %}
  <div class="kpi"><b style="color: {{ colors[name] }}">{{ "%.0f"|format(100 * overall[name]) }}%</b>
    <span>{{ name }}</span></div>
  {% endfor %}
  <div class="kpi"><b>{{ "%+.2f"|format(overall.weighted) }}</b><span>like-weighted score (−1…+1)</span></div>
</div>

<h2>Per video</h2>
<div class="card">
  <p class="legend">{% for name in names %}<span><i style="background: {{ colors[name] }}"></i>{{ name }}</span>{% endfor %}
    <span>score: mean sentiment weighted by 1 + log(1 + likes)</span></p>
  <table id="videos">
    <thead><tr><th>video</th><th class="num">comments</th><th>class shares</th><th class="num">score</th>
      <th class="num">commenters</th></tr></thead>
    <tbody>
    {% for v in videos %}
      <tr data-video="{{ v.video_id }}">
        <td><a href="https://www.youtube.com/watch?v={{ v.video_id|urlencode }}" rel="noopener noreferrer">
          <code>{{ v.video_id }}</code></a></td>
        <td class="num">{{ "{:,}".format(v.n_comments) }}</td>
        <td><div class="bar" title="negative {{ pct(v.share_negative) }}, neutral {{ pct(v.share_neutral) }}, positive {{ pct(v.share_positive) }}">
          {% for name in names %}<div style="width: {{ "%.2f"|format(100 * v['share_' ~ name]) }}%; background: {{ colors[name] }}"></div>{% endfor %}
        </div></td>
        <td class="num">{{ "%+.2f"|format(v.like_weighted_score) }}</td>
        <td class="num">{{ "{:,}".format(v.unique_commenters) }}</td>
      </tr>
    {% endfor %}
    </tbody>
  </table>
  {% if hidden_videos %}<p class="meta">… and {{ hidden_videos }} smaller videos (all are in the database).</p>{% endif %}
</div>

<h2>Monthly trend</h2>
<div class="card">
  <svg id="trend" role="img" aria-label="class shares per month" viewBox="0 0 {{ svg.width }} {{ svg.height }}"
       width="{{ svg.width }}" height="{{ svg.height }}" style="max-width: 100%; height: auto"
       xmlns="http://www.w3.org/2000/svg">
    <defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
      <rect width="3" height="6" fill="#ffffff" fill-opacity="0.55"></rect></pattern></defs>
    {% for m in svg.months %}
      <g class="month{% if m.few %} few-month{% endif %}" data-month="{{ m.month }}" data-count="{{ m.n }}">
        {% for seg in m.segments %}
          <rect x="{{ m.x }}" y="{{ seg.y }}" width="{{ svg.bar }}" height="{{ seg.h }}" fill="{{ seg.color }}"
                {% if m.few %}fill-opacity="0.35"{% endif %}><title>{{ m.month }}: {{ seg.name }} {{ pct(seg.share) }} of {{ m.n }}</title></rect>
        {% endfor %}
        {% if m.few %}<rect x="{{ m.x }}" y="{{ svg.top }}" width="{{ svg.bar }}" height="{{ svg.plot }}" fill="url(#hatch)"></rect>{% endif %}
        <text x="{{ m.cx }}" y="{{ svg.top - 6 }}" text-anchor="middle" font-size="11" fill="{% if m.few %}#b06000{% else %}#202124{% endif %}">{{ m.n }}{% if m.few %}*{% endif %}</text>
        <text x="{{ m.cx }}" y="{{ svg.top + svg.plot + 16 }}" text-anchor="middle" font-size="11" fill="#5f6368">{{ m.month }}</text>
      </g>
    {% endfor %}
  </svg>
  <p class="few">* fewer than {{ min_month }} comments: too few to read a share from (hatched).</p>
  <table id="months">
    <thead><tr><th>month</th><th class="num">comments</th><th class="num">negative</th><th class="num">neutral</th>
      <th class="num">positive</th><th class="num">score</th><th></th></tr></thead>
    <tbody>
    {% for m in months %}
      <tr data-month="{{ m.month }}"><td>{{ m.month }}</td><td class="num">{{ "{:,}".format(m.n_comments) }}</td>
        <td class="num">{{ pct(m.share_negative) }}</td><td class="num">{{ pct(m.share_neutral) }}</td>
        <td class="num">{{ pct(m.share_positive) }}</td><td class="num">{{ "%+.2f"|format(m.like_weighted_score) }}</td>
        <td>{% if m.n_comments < min_month %}<span class="few">too few comments</span>{% endif %}</td></tr>
    {% endfor %}
    </tbody>
  </table>
</div>

<h2>Most-liked comments</h2>
<div class="comments">
  {% for name, items in (("positive", positive), ("negative", negative)) %}
  <div class="card" id="top-{{ name }}">
    <h3 style="margin-top: 0; color: {{ colors[name] }}">{{ name|capitalize }}</h3>
    {% for c in items %}
      <div class="comment" style="border-color: {{ colors[name] }}">
        <p>{{ c.text }}</p>
        <small>{{ "{:,}".format(c.like_count) }} likes · video <code>{{ c.video_id }}</code>
          {% if c.published_at %}· {{ c.published_at.strftime("%Y-%m-%d") }}{% endif %} · confidence {{ pct(c.confidence) }}</small>
      </div>
    {% else %}
      <p class="meta">No {{ name }} comment.</p>
    {% endfor %}
  </div>
  {% endfor %}
</div>
</main>
</body>
</html>
"""  # noqa: E501 - HTML template lines


def trend_svg(months: list[dict[str, Any]], min_month: int) -> dict[str, Any]:
    """Geometry of the monthly stacked bars (shares from the bottom: negative, neutral, positive)."""
    top, plot, gap = 22, 180, 6
    bar = max(8, min(56, 960 // max(1, len(months)) - gap))
    out = []
    for i, m in enumerate(months):
        x = 8 + i * (bar + gap)
        y: float = top + plot
        segments: list[dict[str, Any]] = []
        for name in ("negative", "neutral", "positive"):
            share = float(m[f"share_{name}"])
            h = round(plot * share, 2)
            y = round(y - h, 2)
            segments.append({"name": name, "share": share, "y": y, "h": h, "color": COLORS[name]})
        out.append({"month": m["month"], "n": m["n_comments"], "few": m["n_comments"] < min_month, "x": x,
                    "cx": x + bar / 2, "segments": segments})
    width = max(320, 16 + len(months) * (bar + gap))
    return {"months": out, "bar": bar, "top": top, "plot": plot, "width": width, "height": top + plot + 26}


def render(data: ReportData, min_month: int = DEFAULT_MIN_MONTH_COMMENTS, max_videos: int = MAX_VIDEOS) -> str:
    """The report as one HTML string (every value autoescaped)."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    n = sum(v["n_comments"] for v in data.videos) or 1
    overall = {name: sum(v[f"n_{name}"] for v in data.videos) / n for name in COLORS}
    weights = sum(v["n_comments"] for v in data.videos) or 1
    overall["weighted"] = sum(v["like_weighted_score"] * v["n_comments"] for v in data.videos) / weights
    return env.from_string(TEMPLATE).render(
        csp=CSP, load=data.load, videos=data.videos[:max_videos], hidden_videos=max(0, len(data.videos) - max_videos),
        months=data.months, positive=data.positive, negative=data.negative, names=tuple(COLORS), colors=COLORS,
        overall=overall, min_month=min_month, svg=trend_svg(data.months, min_month),
        pct=lambda x: f"{100 * float(x):.0f}%",
    )


def write_report(engine, channel: str, out: str | Path, run_date: date | None = None,
                 min_month: int = DEFAULT_MIN_MONTH_COMMENTS) -> Path:
    html = render(fetch(engine, channel, run_date), min_month)
    with atomic_write(out) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return Path(out)


# ---- CLI ------------------------------------------------------------------------------------------------------

def add_arguments(parser) -> None:
    parser.add_argument("--channel", required=True, help="UC… channel id (or the @handle it was loaded as)")
    parser.add_argument("--out", required=True, help="the HTML file to write")
    parser.add_argument("--date", default=None, help="run date YYYY-MM-DD of the load (default: the latest)")
    parser.add_argument("--min-month-comments", type=int, default=DEFAULT_MIN_MONTH_COMMENTS,
                        help="months with fewer comments are marked as too few (default %(default)s)")
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL, else sqlite:///var/ytsentiment.db")


def run(args) -> int:
    run_date = parse_date(args.date) if args.date else None
    upgrade(args.database_url)  # a no-op when up to date; a fresh database then says "no load" clearly
    engine = make_engine(args.database_url)
    try:
        path = write_report(engine, args.channel, args.out, run_date, args.min_month_comments)
    finally:
        engine.dispose()
    print(f"wrote the report of {args.channel} to {path}")
    return 0
