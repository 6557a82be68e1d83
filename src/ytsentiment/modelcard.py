"""The model card of a registered version: data, label provenance, metrics next to baselines, use and limits."""

from __future__ import annotations

from typing import Any

LIMITS = """\
- **Languages**: trained on English only. Other scripts pass through the normaliser unchanged but the model has
  seen almost none; expect mostly "neutral" for non-English comments.
- **Sarcasm and irony** ("great, another ad 🙄") are usually read literally.
- **Domain**: tweets, Reddit comments and a small set of YouTube comments. Gaming, music and kids' channels use
  slang the training data barely covers; check a sample before trusting the figures for a new niche.
- **Reddit labels are machine-made**: the course's Reddit set was labelled with sign(TextBlob polarity), so a model
  that scores well on the Reddit split has learned to imitate TextBlob, not people. The human-labelled split is the
  figure to trust.
- **Two-class sources** (no neutral rows) inform polarity but not the neutral boundary.
"""


def _row(name: str, scope: dict[str, dict], key: str = "macro_f1") -> str:
    cells = [f"{scope[s][key]:.3f}" if s in scope else "–" for s in ("model", "textblob", "vader")]
    return f"| {name} | {' | '.join(cells)} | {scope['model'].get('rows', '')} |"


def render(name: str, version: str, run: dict[str, Any], metrics: dict[str, Any], sources: list[dict],
           git_commit: str) -> str:
    scopes = [s for s in metrics["model"] if not s.startswith("source.")] + \
             sorted(s for s in metrics["model"] if s.startswith("source."))
    by_scope = {s: {system: metrics[system][s] for system in metrics if s in metrics[system]} for s in scopes}
    lines = [
        f"# Model card: {name} v{version}",
        "",
        "Sentiment of YouTube comments: -1 negative, 0 neutral, 1 positive, with class probabilities.",
        "",
        "One sklearn Pipeline: normalise (`ytsentiment.text`) → TF-IDF + VADER lexicon scores → LightGBM.",
        f"MLflow run `{run['run_id']}`, git commit `{git_commit}`.",
        "",
        "## Intended use",
        "Summarising the mood of a video's comment section (shares per class, trend by month) in the ytsentiment",
        "Chrome extension and API. Not for judging individual people, moderation decisions, or any high-stakes use.",
        "",
        "## Training data",
        "| source | group | rows ingested | -1 / 0 / 1 | labelled by |",
        "|---|---|---|---|---|",
    ]
    for s in sources:
        labels = " / ".join(str(s["labels"].get(k, 0)) for k in ("-1", "0", "1"))
        by = "machine: sign(TextBlob polarity)" if s["group"] == "reddit" else "people (see data README)"
        lines.append(f"| {s['name']} | {s['group']} | {s['rows']} | {labels} | {by} |")
    lines += [
        "",
        "## Test metrics (macro-F1; same rows for every system)",
        "| scope | model | TextBlob sign | VADER (±0.05) | rows |",
        "|---|---|---|---|---|",
        *(_row(s, by_scope[s]) for s in scopes),
        "",
        "## Known limits",
        LIMITS,
    ]
    return "\n".join(lines)
