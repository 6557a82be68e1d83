"""The Markdown card of a registered model version: data, label provenance, metrics next to baselines, use and
limits."""

from __future__ import annotations

from typing import Any

from ytsentiment.contract import CLASSES
from ytsentiment.scoring import macro_f1_table

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


LABELLED_BY = {
    "reddit": "machine: sign(TextBlob polarity)",
    "feedback": "people: corrections sent from the extension (feedback export: capped per client, conflicts dropped)",
}


LEARNER_WORDS = {
    "stack": "LightGBM on a logistic regression's class scores, VADER and comment shape, averaged with it",
    "linear": "logistic regression",
}


def render(name: str, version: str, run: dict[str, Any], metrics: dict[str, Any], sources: list[dict],
           git_commit: str, learner: str = "stack", calibration: str = "temperature") -> str:
    """The card as Markdown: ``run`` is reports/run.json, ``metrics`` reports/metrics.json, ``sources`` what ingest
    recorded per source (data/raw/sources.json); ``learner`` and ``calibration`` are the run's ``train.learner``
    and ``train.calibration``."""
    lines = [
        f"# Model card: {name} v{version}",
        "",
        "Sentiment of YouTube comments: -1 negative, 0 neutral, 1 positive, with class probabilities.",
        "",
        "One sklearn Pipeline: normalise (`ytsentiment.text`) → word TF-IDF + hashed character n-grams + VADER",
        f"lexicon scores + comment shape → {LEARNER_WORDS.get(learner, learner)}; probabilities calibrated",
        f"({calibration}) on training rows neither model learned from.",
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
        if "skipped" in s:  # an optional source (the feedback export) that was not present
            lines.append(f"| {s['name']} | {s['group']} | – | – | not used: {s['skipped']} |")
            continue
        labels = " / ".join(str(s["labels"].get(str(k), 0)) for k in CLASSES)
        by = LABELLED_BY.get(s["group"], "people (see docs/data.md)")
        lines.append(f"| {s['name']} | {s['group']} | {s['rows']} | {labels} | {by} |")
    lines += [
        "",
        "## Test metrics (macro-F1; same rows for every system)",
        macro_f1_table(metrics),
        "",
        "## Confidence",
        "Expected calibration error of the model's probabilities on the test rows (0: a 0.8 is right 80 % of the",
        "time; mean gap between confidence and accuracy over 15 confidence bins; reliability diagrams in",
        "`reports/plots/reliability_*.png`):",
        "",
        "| scope | ECE | rows |",
        "|---|---|---|",
        *[f"| {scope} | {metrics['model'][scope]['ece']:.4f} | {metrics['model'][scope]['rows']} |"
          for scope in ("overall", "human", "reddit") if "ece" in metrics["model"].get(scope, {})],
        "",
        "## Behaviour",
        "| suite | pass rate |",
        "|---|---|",
        *[f"| {suite} | {rate:.3f} |" for suite, rate in metrics.get("behaviour", {}).items()],
        "",
        "## Known limits",
        LIMITS,
    ]
    return "\n".join(lines)



ONLINE_HEADING = "## Online evidence (shadowing production)"


def with_online_evidence(card: str, online: dict[str, Any], decision: str) -> str:
    """``card`` with its online-evidence section (the gate's ``checks.online``) replaced or appended."""
    kept = card.split(f"\n{ONLINE_HEADING}\n")[0].rstrip("\n")
    lines = [ONLINE_HEADING, "", f"Gate decision: **{decision}** ({online.get('result')}).", "",
             "| figure | value |", "|---|---|"]
    lines += [f"| {key} | {value if not isinstance(value, list) else f'{value[0]} – {value[1]}'} |"
              for key, value in online.items() if key != "result"]
    return f"{kept}\n\n" + "\n".join(lines) + "\n"
