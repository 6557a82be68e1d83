"""The monitor's outputs on disk: one self-contained HTML report and the JSON summary.

The HTML page starts with what a reader needs first (decision, reasons, window, live quality, each drift signal
against the baseline and against the training test split, the terms that moved most) and then embeds Evidently's own
interactive views of the same comparisons (distributions, the domain classifier's most telling words and examples),
each in an ``iframe`` with ``srcdoc`` so the file has no outside dependency.

Comments are untrusted text (house style 22), and three independent layers keep them text:
- every value this page writes itself is HTML-escaped;
- Evidently's page holds its data as raw JSON inside a ``<script>``, where ``</script>`` or ``<!--`` in a comment
  would end or derail the element: every ``<`` in that JSON is rewritten as ``\\u003c``, the same JavaScript string,
  so the views show the comment exactly as written and the HTML parser never sees markup in it;
- each view's ``iframe`` is sandboxed (``allow-scripts`` only: an opaque origin, no dialogs, popups, forms or top
  navigation), and the page's Content-Security-Policy (inherited by the ``srcdoc`` frames) lets only the scripts
  Evidently wrote run, by their SHA-256, so no inline handler or injected script could.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import re
from pathlib import Path
from typing import Any

from ytsentiment.io import atomic_write, write_json

log = logging.getLogger(__name__)

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d232a;max-width:1200px}
h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #dde}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600}
.ok{background:#2e7d32}.retrain{background:#c62828}.not_enough_data{background:#6d6d6d}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ccd;padding:3px 9px;text-align:left}
th{background:#f3f4f8}.drift{color:#c62828;font-weight:600}.muted{color:#666}
iframe{width:100%;height:900px;border:1px solid #ccd}
"""
# Evidently's standalone page (evidently 0.7 legacy/utils/dashboard.py, file_html_template) starts with its data, one
# JSON document a line (json.dumps writes no raw newline), before any other script.
EVIDENTLY_DATA = re.compile(r"(<script>\n    var (metric_[0-9a-f]{32}) = )(.*)(;\n    var additional_graphs_\2 = )(.*)"
                            r"(;\n</script>)")
SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.S)
IFRAME_SANDBOX = "allow-scripts"
CSP = ("default-src 'none'; script-src {scripts}; style-src 'unsafe-inline'; img-src data:; font-src data:; "
       "base-uri 'none'; form-action 'none'")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else _e(value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _drift_section(title: str, view: dict[str, Any] | None) -> str:
    if view is None:
        return f"<h2>{_e(title)}</h2><p class=muted>not computed (no reference available)</p>"
    out = [f"<h2>{_e(title)}</h2>",
           f"<p>{view['n_window']} predictions in the window, {view['n_reference']} in the reference.</p>"]
    if not view.get("enough_data"):
        return "".join(out) + f"<p class=muted>{_e(view.get('note'))}</p>"
    verdict = "drift detected" if view["drift_detected"] else "no drift"
    out.append(f"<p><b class={'drift' if view['drift_detected'] else ''}>{verdict}</b>: drift score "
               f"{view['drift_score']:.2f} (share of drifted signals)</p>")
    rows = [[_e(name), _e(v["method"]), _num(v["score"]), _e(v["threshold"]),
             "<span class=drift>drift</span>" if v["drift"] else "–"] for name, v in view["signals"].items()]
    out.append(_table(["signal", "method", "score", "threshold", "drift"], rows))
    if view.get("class_mix"):
        sides = list(view["class_mix"])
        classes = list(view["class_mix"][sides[0]])
        out.append(_table(["predicted class", *sides],
                          [[_e(c), *[f"{view['class_mix'][s][c]:.1%}" for s in sides]] for c in classes]))
    return "".join(out)


def _movers_section(view: dict[str, Any] | None) -> str:
    out = ["<h2>Terms that moved most between the baseline and the window (informative)</h2>"]
    if not view or not view.get("computed"):
        return "".join(out) + f"<p class=muted>{_e((view or {}).get('note') or 'not computed')}</p>"
    out.append(f"<p>The {_e(view['why_terms'])} terms that pushed each comment most toward its predicted label, on "
               f"{_e(view['n_window'])} comments of the window and {_e(view['n_baseline'])} of the baseline (seeded "
               "samples of those with text the model reads). A term's share: of the comments given that label, the "
               "share with the term among their terms.</p>")
    if not view["movers"]:
        return "".join(out) + "<p class=muted>no term's share changed</p>"
    rows = [[_e(m["term"]), _e(m["class"]), f"{m['baseline_share']:.1%}", f"{m['window_share']:.1%}",
             f"{m['change']:+.1%}"] for m in view["movers"]]
    return "".join(out) + _table(["term", "predicted class", "baseline share", "window share", "change"], rows)


def _shadow_section(shadow: dict[str, Any] | None) -> str:
    """The challenger's online evidence (``storage.shadow``); every value escaped."""
    if not shadow:
        return ""
    out = [f"<h2>Challenger v{_e(shadow['challenger_version'])} shadowing production "
           f"v{_e(shadow['production_version'])} (informs the gate, not this decision)</h2>",
           _table(["shadowed comments", "agreement", "95 % interval", "from", "to"],
                  [[_e(shadow["n_shadowed"]), _num(shadow["agreement"]),
                    f"{_num(shadow['agreement_low'])} – {_num(shadow['agreement_high'])}", _e(shadow["first"]),
                    _e(shadow["last"])]])]
    flips = shadow["flips"]
    names = list(flips)
    out.append("<p>Class flips: production's class (rows) against the challenger's (columns).</p>")
    out.append(_table(["production \\ challenger", *names], [[_e(a), *[_e(flips[a][b]) for b in names]]
                                                               for a in names]))
    live = shadow["live"]
    if live["n_feedback"]:
        rows = [[_e(who), _num(live[who]["macro_f1"]), f"{_num(live[who]['low'])} – {_num(live[who]['high'])}",
                 _num(live[who]["accuracy"])] for who in ("production", "challenger")]
        d = live["difference"]
        rows.append(["challenger - production", _num(d["macro_f1"]), f"{_num(d['low'])} – {_num(d['high'])}", ""])
        out.append(f"<p>Live quality on the {_e(live['n_feedback'])} feedback rows about shadowed comments "
                   "(bootstrap 95 % intervals):</p>")
        out.append(_table(["model", "macro-F1", "95 % interval", "accuracy"], rows))
    else:
        out.append("<p class=muted>no feedback yet about the shadowed comments</p>")
    lat = shadow["latency_ms"]
    out.append(_table(["median ms per request's batch", "production", "challenger"],
                      [["", _num(lat["production_p50"]), _num(lat["challenger_p50"])]]))
    return "".join(out)


def inert_evidently_page(doc: str) -> str | None:
    """Evidently's page with every ``<`` in its embedded JSON written ``\\u003c`` (JSON has ``<`` only inside
    strings, so the data is unchanged); None when the page is not laid out as this code knows (never unsafe)."""
    match = EVIDENTLY_DATA.search(doc)
    if match is None:
        return None
    head, _, data, middle, graphs, tail = match.groups()
    safe = head + data.replace("<", "\\u003c") + middle + graphs.replace("<", "\\u003c") + tail
    return doc[:match.start()] + safe + doc[match.end():]


def script_hashes(docs: list[str]) -> list[str]:
    """CSP sources allowing exactly the inline scripts of ``docs`` (their text's SHA-256), none twice."""
    digests = (hashlib.sha256(body.encode("utf-8")).digest() for doc in docs for body in SCRIPT.findall(doc))
    return list(dict.fromkeys(f"'sha256-{base64.b64encode(d).decode('ascii')}'" for d in digests))


def render_html(summary: dict[str, Any], snapshots: dict[str, Any]) -> str:
    """The report page for a summary (``job.run_monitor``'s) and the Evidently snapshots by title."""
    decision = summary["decision"]
    w, q = summary["window"], summary["live_quality"]
    views: dict[str, str | None] = {}
    for title, snapshot in snapshots.items():
        if snapshot is not None:
            views[title] = inert_evidently_page(snapshot.get_html_str(as_iframe=False))
            if views[title] is None:
                log.warning("the Evidently view %r is left out of the report: its page is not laid out as "
                            "monitoring/report.py knows, so its data could not be made inert", title)
    scripts = " ".join(script_hashes([doc for doc in views.values() if doc is not None])) or "'none'"
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<meta http-equiv=Content-Security-Policy content=\"{CSP.format(scripts=scripts)}\">",
        f"<title>ytsentiment monitor: {_e(summary['model_name'])} v{_e(summary['model_version'])}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{_e(summary['model_name'])} v{_e(summary['model_version'])} "
        f"<span class='badge {_e(decision)}'>{_e(decision.replace('_', ' '))}</span></h1>",
        f"<p class=muted>run at {_e(summary['run_at'])}</p>",
        "<ul>" + "".join(f"<li>{_e(r)}</li>" for r in summary["reasons"]) + "</ul>",
        "<h2>Window</h2>",
        _table(["window", "start", "end", "predictions"],
               [[_e(f"{w['by']} ({w['size_or_hours']})"), _e(w["start"]), _e(w["end"]), _e(w["n_predictions"])]]),
    ]
    b = summary.get("baseline") or {}
    parts.append(_table(["baseline", "start", "end", "predictions", "pinned at"],
                        [[_e(b.get("status")), _e(b.get("window_start")), _e(b.get("window_end")),
                          _e(b.get("n_predictions")), _e(b.get("pinned_at"))]]))
    parts += [
        "<h2>Live quality (feedback on this version)</h2>",
        _table(["feedback rows", "macro-F1", "accuracy", "floor", "judged"],
               [[_e(q["n_feedback"]), _num(q.get("macro_f1")), _num(q.get("accuracy")),
                 _e(summary["params"]["live_f1_floor"]), "yes" if q.get("enough_data") else
                 f"no (need {q['min_feedback']})"]]),
        _shadow_section(summary.get("shadow")),
        _drift_section("Drift vs the version's baseline (decides)", summary["drift"]),
        _drift_section("Distance to the training test split (informative)", summary.get("test_split")),
        _movers_section(summary.get("term_movers")),
    ]
    for title, doc in views.items():
        parts.append(f"<h2>Evidently: {_e(title)}</h2>")
        parts.append(f"<iframe title='{_e(title)}' sandbox={IFRAME_SANDBOX} srcdoc=\"{html.escape(doc)}\"></iframe>"
                     if doc is not None else "<p class=muted>Evidently's view is left out: its page is not laid out "
                     "as this report knows, so the comments in it could not be shown safely.</p>")
    parts.append("</body></html>")
    return "".join(parts)


def write_outputs(out_dir: str | Path, summary: dict[str, Any], snapshots: dict[str, Any]) -> dict[str, Path]:
    """Write ``report.html`` and ``summary.json`` into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    paths = {"report": out / "report.html", "summary": out / "summary.json"}
    with atomic_write(paths["report"]) as tmp:
        tmp.write_text(render_html(summary, snapshots), encoding="utf-8")
    write_json(paths["summary"], summary)
    return paths
