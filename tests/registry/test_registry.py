"""The registry and gate through the CLI on a real MLflow registry: register, promote, refuse, roll back, export.

Exit codes: 0 ok, 2 refused or bad input. Every test starts from an empty registry; the flow test runs against the
embedded sqlite store and against a real `mlflow server` on loopback.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
GATE_BUDGET = 5000  # ms, conftest.GATE["latency_budget_ms"]


def headline(model, scope: str) -> float:
    return round(model.metrics["model"][scope]["macro_f1"], 4)


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def promote(reg, capsys, **overrides) -> tuple[int, str]:
    """Run `ytsentiment promote`; return its exit code and what it printed (earlier output is dropped)."""
    capsys.readouterr()
    code = reg.promote(**overrides)
    return code, capsys.readouterr().out


def test_register_creates_candidate_with_tags_and_model_card(registry, good_model, capsys):
    assert registry.register(good_model) == 0
    assert "registered ytsentiment-test v1 as @candidate" in capsys.readouterr().out
    assert registry.aliases() == {"candidate": "1"}

    tags = registry.tags("1")
    assert tags["git_commit"] and tags["git_commit"] != "unknown"
    assert {f"data.{s['name']}.sha256" for s in registry.sources} <= set(tags)
    assert tags["metric.overall.macro_f1"] == f"{good_model.metrics['model']['overall']['macro_f1']:.4f}"
    assert {"metric.human.macro_f1", "metric.reddit.macro_f1"} <= set(tags)
    assert not any(k.startswith("metric.source.") for k in tags)

    card = (registry.tmp / "reports" / "model_card.md").read_text(encoding="utf-8")
    assert registry.version("1").description == card
    assert card.startswith("# Model card: ytsentiment-test v1")
    assert "machine: sign(TextBlob polarity)" in card and "Reddit labels are machine-made" in card
    assert "| scope | model | TextBlob sign | VADER (±0.05) | rows |" in card
    m = good_model.metrics
    overall = " | ".join(f"{m[s]['overall']['macro_f1']:.3f}" for s in ("model", "textblob", "vader"))
    assert f"| overall | {overall} | {m['model']['overall']['rows']} |" in card
    for heading in ("## Intended use", "## Training data", "## Known limits", "**Languages**", "**Sarcasm",
                    "## Confidence", "## Behaviour"):
        assert heading in card
    assert f"| human | {m['model']['human']['ece']:.4f} | {m['model']['human']['rows']} |" in card
    assert f"| youtube_idiom | {m['behaviour']['youtube_idiom']:.3f} |" in card
    for source in registry.sources:
        assert f"| {source['name']} | {source['group']} | {source['rows']} |" in card


def test_first_promotion_passes_on_floors_and_behaviour(registry, good_model, capsys):
    registry.register(good_model)
    code, out = promote(registry, capsys)
    assert code == 0
    assert out.startswith("PROMOTED: ytsentiment-test candidate v1 (production was none)")
    assert registry.aliases() == {"candidate": "1", "production": "1"}

    report = read(registry.report)
    assert report["decision"] == "promoted" and report["production_version"] is None
    assert report["reasons"] == [] and report["replaced_version"] is None
    assert report["candidate"]["overall"] == headline(good_model, "overall")
    assert report["checks"]["contract"] == "ok"
    assert set(report["checks"]["behaviour"]) == {"minimum_functionality", "invariance", "directional",
                                                  "youtube_idiom"}
    assert 0 < report["checks"]["latency_ms"] < GATE_BUDGET
    assert report["by"] and report["at"] and report["rows"] == len(registry.test)

    tags = registry.tags("1")
    assert tags["gate.decision"] == "promoted" and tags["gate.reasons"] == "all checks passed"
    assert tags["gate.by"] == report["by"] and tags["gate.at"] == report["at"]
    assert float(tags["gate.candidate.human.macro_f1"]) == headline(good_model, "human")
    assert "promotion.replaced_version" not in tags


def test_floors_refuse_a_first_model(registry, worse_model, capsys):
    registry.register(worse_model)
    code, out = promote(registry, capsys)
    assert code == 2
    assert out.startswith("REFUSED:")
    assert f"floor: overall macro-F1 {worse_model.metrics['model']['overall']['macro_f1']:.4f} < 0.58" in out
    assert "behaviour: minimum_functionality" in out
    assert registry.aliases() == {"candidate": "1"}
    assert registry.tags("1")["gate.decision"] == "refused"


def test_flow_promote_refuse_promote_rollback(any_registry, good_model, worse_model, capsys):
    reg = any_registry
    assert reg.register(good_model) == 0 and reg.promote() == 0
    assert reg.aliases() == {"candidate": "1", "production": "1"}

    # A worse model is refused: both models' figures shown, nothing moves, the refusal is on the version.
    assert reg.register(worse_model) == 0
    code, out = promote(reg, capsys)
    assert code == 2
    assert out.startswith(f"REFUSED: {reg.name} candidate v2 (production was v1)")
    assert "  candidate  macro-F1 overall " + f"{headline(worse_model, 'overall'):.4f}" in out
    assert "  production macro-F1 overall " + f"{headline(good_model, 'overall'):.4f}" in out
    assert (f"compare: overall macro-F1 {worse_model.metrics['model']['overall']['macro_f1']:.4f} < production v1's "
            f"{good_model.metrics['model']['overall']['macro_f1']:.4f}") in out
    assert reg.aliases() == {"candidate": "2", "production": "1"}
    tags = reg.tags("2")
    assert tags["gate.decision"] == "refused" and "compare: overall" in tags["gate.reasons"]
    assert float(tags["gate.production.overall.macro_f1"]) == headline(good_model, "overall")
    assert float(tags["gate.candidate.overall.macro_f1"]) == headline(worse_model, "overall")
    report = read(reg.report)
    assert report["decision"] == "refused" and report["production"]["human"] == headline(good_model, "human")
    assert reg.tags("1")["gate.decision"] == "promoted"

    # Good models are promoted; each replaced production keeps @previous.
    assert reg.register(good_model) == 0 and reg.promote() == 0
    assert reg.aliases() == {"candidate": "3", "production": "3", "previous": "1"}
    assert reg.tags("3")["promotion.replaced_version"] == "1"
    assert reg.register(good_model) == 0 and reg.promote() == 0
    assert reg.aliases() == {"candidate": "4", "production": "4", "previous": "3"}

    # Rollback: production -> previous, and previous -> what that version replaced when it was promoted. The
    # demoted version loses @candidate too, so the next `make promote` cannot put it straight back.
    capsys.readouterr()
    assert reg.rollback() == 0
    assert f"rolled back {reg.name}: production v4 -> v3" in capsys.readouterr().out
    assert reg.aliases() == {"production": "3", "previous": "1"}
    record = read(reg.tmp / "reports" / "rollback.json")
    assert record["from_version"] == "4" and record["to_version"] == "3" and record["previous_now"] == "1"
    assert "rollback.demoted_at" in reg.tags("4") and reg.tags("3")["rollback.from_version"] == "4"

    assert reg.rollback() == 0
    assert reg.aliases() == {"production": "1"}  # v1 replaced nothing: no @previous left

    assert reg.rollback() == 2
    assert reg.aliases() == {"production": "1"}


def test_rollback_errors_are_clear(registry, good_model, caplog):
    assert registry.rollback() == 2
    assert "has no @production version" in caplog.text
    registry.register(good_model)
    registry.promote()
    caplog.clear()
    assert registry.rollback() == 2
    assert "has no @previous version (production is v1" in caplog.text
    assert registry.aliases() == {"candidate": "1", "production": "1"}


def test_production_is_rescored_not_trusted(registry, good_model, capsys):
    """v1 logged with inflated figures (0.99); the gate re-scores it, so an equally good v2 still passes."""
    inflated = json.loads(json.dumps(good_model.metrics))
    for scope in inflated["model"].values():
        scope["macro_f1"] = 0.99
    registry.register(good_model, metrics=inflated)
    assert registry.tags("1")["metric.overall.macro_f1"] == "0.9900"
    assert registry.promote() == 0
    registry.register(good_model)
    assert registry.promote() == 0
    report = read(registry.report)
    assert report["production"] == report["candidate"]
    assert report["production"]["overall"] == headline(good_model, "overall")
    assert registry.aliases() == {"candidate": "2", "production": "2", "previous": "1"}


def test_promote_again_is_unchanged(registry, good_model, capsys):
    registry.register(good_model)
    assert registry.promote() == 0
    tags_before = registry.tags("1")
    code, out = promote(registry, capsys)
    assert code == 0
    assert out.startswith("UNCHANGED: ytsentiment-test candidate v1 (production was v1)")
    report = read(registry.report)
    assert report["decision"] == "unchanged" and report["reasons"] == ["v1 is already @production"]
    assert registry.aliases() == {"candidate": "1", "production": "1"}
    assert registry.tags("1") == tags_before


def _delete_artifacts(registry, version: str) -> None:
    import mlflow

    from ytsentiment.tracking import use_tracking

    use_tracking()
    location = mlflow.MlflowClient().get_model_version_download_uri(registry.name, version)
    assert location.startswith("file://"), location
    shutil.rmtree(Path(location.removeprefix("file://")))


@pytest.mark.parametrize("broken, expected", [
    ("unloadable", "candidate does not load from models:/ytsentiment-test@candidate"),
    ("wrong_classes_model", "contract: classes_ is [0, 1, 2], expected [-1, 0, 1]"),
    ("string_output_model", "contract: classes_ is ['negative', 'neutral', 'positive'], expected [-1, 0, 1]"),
])
def test_broken_candidate_is_refused(registry, good_model, broken, expected, request, capsys):
    registry.register(good_model)
    assert registry.promote() == 0
    if broken == "unloadable":
        registry.register(good_model)
        _delete_artifacts(registry, "2")
    else:
        registry.register(request.getfixturevalue(broken))
    code, out = promote(registry, capsys)
    assert code == 2
    assert out.startswith("REFUSED: ytsentiment-test candidate v2 (production was v1)")
    assert expected in out
    assert registry.aliases() == {"candidate": "2", "production": "1"}
    assert registry.tags("2")["gate.decision"] == "refused" and expected in registry.tags("2")["gate.reasons"]


def test_string_predictions_are_a_contract_failure(string_output_model):
    from ytsentiment.gate import contract_problems

    problems = contract_problems(string_output_model.pipeline)
    assert any("predict returned ['" in p and "expected 3 labels in [-1, 0, 1]" in p for p in problems), problems


def test_gate_latency_budget(registry, good_model, capsys):
    registry.register(good_model)
    code, out = promote(registry, capsys, latency_budget_ms=0.001)
    assert code == 2 and "latency: " in out
    assert registry.aliases() == {"candidate": "1"}


def test_export_production(registry, good_model, tmp_path, capsys):
    import mlflow.sklearn

    out = tmp_path / "export" / "model"
    assert registry.cli("export", "--out", str(out)) == 2  # nothing promoted yet
    registry.register(good_model)
    registry.promote()
    assert registry.cli("export", "--out", str(out)) == 0
    model = mlflow.sklearn.load_model(str(out))
    frame = registry.test[["text"]].head(50)
    assert (model.predict(frame) == good_model.pipeline.predict(frame)).all()
    info = read(out / "model_info.json")
    assert {"name": "ytsentiment-test", "version": "1", "alias": "production"}.items() <= info.items()
    assert info["run_id"] == registry.version("1").run_id
    overall = good_model.metrics["model"]["overall"]["macro_f1"]
    assert info["metrics"]["model.overall.macro_f1"] == pytest.approx(overall)
    # trained_at: when the run that trained and evaluated the model finished, UTC to the second.
    ended = mlflow.MlflowClient().get_run(info["run_id"]).info.end_time
    assert info["trained_at"] == datetime.fromtimestamp(ended // 1000, UTC).isoformat()
    assert info["uri"] == "models:/ytsentiment-test@production"
    assert info["git_commit"] == registry.tags("1")["git_commit"]

    # Exporting again replaces the previous export; a folder that is not an export is never wiped.
    assert registry.cli("export", "--out", str(out)) == 0
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me", encoding="utf-8")
    assert registry.cli("export", "--out", str(precious)) == 2
    assert (precious / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_bad_inputs_are_clear_errors(registry, good_model, tmp_path, caplog):
    assert registry.promote() == 2
    assert "has no @candidate version" in caplog.text

    missing = tmp_path / "nowhere" / "run.json"
    assert registry.cli("register", "--run", str(missing)) == 2
    assert f"run record not found at {missing}" in caplog.text

    folder = registry.log_run(good_model)
    run = read(folder / "run.json")
    (folder / "run.json").write_text(json.dumps({**run, "run_id": "0" * 32}), encoding="utf-8")
    assert registry.cli("register", "--run", str(folder / "run.json"), "--metrics", str(folder / "metrics.json"),
                        "--provenance", str(folder / "sources.json")) == 2
    assert "0" * 32 in caplog.text and "MLFLOW_TRACKING_URI" in caplog.text

    registry.register(good_model)
    registry.test = registry.test.drop(columns=["group"])
    assert registry.promote() == 2
    assert "missing columns ['group']" in caplog.text
    assert registry.aliases() == {"candidate": "1"}
