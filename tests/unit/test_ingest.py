"""Ingest stage errors: every bad source stops the stage with a message naming the source and the fix, and the
stage's real main() leaves no output behind."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ytsentiment.config import parse_params
from ytsentiment.logs import run_main
from ytsentiment.stages import ingest

REPO = Path(__file__).resolve().parents[2]
GOOD_ROWS = [("I love it", 1), ("meh, it is a video", 0), ("awful", -1), ("great job", 1), ("so bad", -1)]


def _csv(path: Path, rows, columns=("text", "label")) -> Path:
    pd.DataFrame(rows, columns=list(columns)).to_csv(path, index=False)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _source(path: Path | str, sha256: str | None = None, **over) -> dict:
    """A local CSV source (no upstream repository), as the pipeline tests and the feedback export use."""
    source = {
        "name": "tiny", "group": "human", "format": "csv",
        "files": [{"path": str(path), "sha256": sha256 if sha256 is not None else _sha(Path(path))}],
        "text_column": "text", "label_column": "label", "labels": {-1: -1, 0: 0, 1: 1},
        "weight": 1.0, "max_rows": None,
    }
    source.update(over)
    return source


def _params_file(tmp_path: Path, *sources: dict) -> Path:
    raw = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    raw["ingest"] = {"include": None, "sources": list(sources)}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _run(tmp_path: Path, params: Path) -> int:
    return run_main(ingest.main, ["--params", str(params), "--out", str(tmp_path / "out" / "combined.csv"),
                                  "--provenance", str(tmp_path / "out" / "sources.json")])


def _outputs(tmp_path: Path) -> list[Path]:
    out = tmp_path / "out"
    return sorted(out.iterdir()) if out.exists() else []


def test_ingest_happy_path_maps_caps_and_records(tmp_path):
    good = _csv(tmp_path / "good.csv", GOOD_ROWS)
    stars = _csv(tmp_path / "stars.csv", [("five stars", 5), ("one star", 1), ("", 5), ("ok", 3)],
                 columns=("body", "stars"))
    params = _params_file(
        tmp_path,
        _source(good, max_rows=3),
        _source(stars, name="stars", text_column="body", label_column="stars", labels={1: -1, 3: 0, 5: 1},
                weight=0.5),
    )
    assert _run(tmp_path, params) == 0
    combined = pd.read_csv(tmp_path / "out" / "combined.csv", keep_default_na=False)
    assert list(combined.columns) == ingest.COLUMNS
    assert (combined["source"] == "tiny").sum() == 3  # max_rows cap
    stars_rows = combined[combined["source"] == "stars"]
    assert stars_rows["label"].tolist() == [1, -1, 0]  # the empty text is dropped
    assert stars_rows["text"].tolist() == ["five stars", "one star", "ok"]
    assert set(stars_rows["weight"]) == {0.5}
    provenance = pd.read_json(tmp_path / "out" / "sources.json")
    assert provenance.loc[0, "files"] == [{"location": str(good), "sha256": _sha(good)}]
    assert provenance.loc[0, "dropped"]["over_max_rows"] == 2
    assert provenance.loc[1, "labels"] == {"-1": 1, "0": 1, "1": 1}
    assert provenance.loc[1, "dropped"]["empty"] == 1


def _expect_failure(tmp_path, caplog, params: Path, *fragments: str) -> str:
    with caplog.at_level(logging.ERROR, logger="ytsentiment"):
        assert _run(tmp_path, params) == 2
    message = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    for fragment in fragments:
        assert fragment in message
    assert _outputs(tmp_path) == [], "a failed ingest must not leave (partial) outputs behind"
    return message


def test_checksum_mismatch(tmp_path, caplog):
    good = _csv(tmp_path / "good.csv", GOOD_ROWS)
    other = _csv(tmp_path / "other.csv", GOOD_ROWS[:3])
    params = _params_file(tmp_path, _source(other, name="second"), _source(good, sha256="0" * 64))
    _expect_failure(tmp_path, caplog, params, "source 'tiny': sha256 mismatch", str(good), _sha(good),
                    "Fix:", "the sha256 of ingest.sources[tiny]")


def test_missing_column(tmp_path, caplog):
    path = _csv(tmp_path / "cols.csv", GOOD_ROWS, columns=("comment", "label"))
    _expect_failure(tmp_path, caplog, _params_file(tmp_path, _source(path)),
                    "source 'tiny': missing column(s) ['text']", "found ['comment', 'label']", "text_column")


@pytest.mark.parametrize("bad", [2, "positive"])
def test_unknown_label_value(tmp_path, caplog, bad):
    path = _csv(tmp_path / "labels.csv", [*GOOD_ROWS, ("what", bad)])
    _expect_failure(tmp_path, caplog, _params_file(tmp_path, _source(path)),
                    "source 'tiny': 1 row(s) with label values outside ['-1', '0', '1']", f"'{bad}': 1",
                    "map them in ingest.sources[tiny].labels or list them in drop_labels")


def test_unreadable_csv(tmp_path, caplog):
    path = tmp_path / "binary.csv"
    path.write_bytes(b"text,label\n\xff\xfe\x00bad,1\n")
    _expect_failure(tmp_path, caplog, _params_file(tmp_path, _source(path)), "source 'tiny'",
                    "not a readable CSV")


def test_failing_source_after_good_ones_writes_nothing(tmp_path, caplog):
    good = _csv(tmp_path / "good.csv", GOOD_ROWS)
    params = _params_file(tmp_path, _source(good, name="first"),
                          _source(good, name="second", sha256="f" * 64))
    _expect_failure(tmp_path, caplog, params, "source 'second'")


def test_bad_params_exit_2_as_a_process(tmp_path):
    """The real entry point, as DVC runs it: exit code 2 and one clear line on stderr, no traceback."""
    good = _csv(tmp_path / "good.csv", GOOD_ROWS)
    params = _params_file(tmp_path, _source(good, sha256="0" * 64))
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "ytsentiment.stages.ingest", "--params", str(params),
         "--out", str(out / "combined.csv"), "--provenance", str(out / "sources.json")],
        capture_output=True, text=True, timeout=120, env={**os.environ, "LOG_LEVEL": "INFO"},
    )
    assert proc.returncode == 2, proc.stderr
    assert "source 'tiny': sha256 mismatch" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _outputs(tmp_path) == []


def test_text_labels(tmp_path):
    """Sources labelled with words work like numeric ones (this crashed with a ValueError before)."""
    path = _csv(tmp_path / "words.csv", [("yay", "positive"), ("boo", " negative"), ("hm", "neutral")])
    params = _params_file(tmp_path, _source(path, labels={"positive": 1, "negative": -1, "neutral": 0}))
    assert _run(tmp_path, params) == 0
    combined = pd.read_csv(tmp_path / "out" / "combined.csv")
    assert combined["label"].tolist() == [1, -1, 0]


def test_unknown_text_label(tmp_path, caplog):
    path = _csv(tmp_path / "words.csv", [("yay", "positive"), ("eh", "mixed"), ("?", "unsure")])
    params = _params_file(tmp_path, _source(path, labels={"positive": 1, 0: 0}, drop_labels=["unsure"]))
    _expect_failure(tmp_path, caplog, params, "1 row(s) with label values outside ['0', 'positive'] "
                    "(dropped: ['unsure'])", "'mixed': 1")


def test_read_source_direct(tmp_path):
    """The pure function, without the stage: string text column kept as text even when it looks numeric."""
    path = _csv(tmp_path / "nums.csv", [("123", 1), ("0.5", 0), ("NA", -1)])
    params = parse_params({**yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8")),
                           "ingest": {"sources": [_source(path)]}})
    df, record = ingest.read_source(params.ingest.sources[0], seed=0)
    assert df["text"].tolist() == ["123", "0.5", "NA"]
    assert record["sha256"] == _sha(path) and record["rows"] == 3


# ---- the feedback export as an optional, sidecar-verified source --------------------------------------------------
def _export(folder: Path, day: str, rows) -> Path:
    """What `ytsentiment feedback export` writes: feedback-<day>.csv and a sidecar recording its sha256."""
    folder.mkdir(exist_ok=True)
    path = _csv(folder / f"feedback-{day}.csv", rows)
    (folder / f"feedback-{day}.json").write_text(f'{{"sha256": "{_sha(path)}", "rows": {len(rows)}}}')
    return path


def _feedback_source(folder: Path) -> dict:
    return _source(folder / "feedback-*.csv", sha256="sidecar", name="youtube_feedback", group="feedback",
                   optional=True)


def test_an_absent_optional_source_is_skipped_and_recorded(tmp_path):
    good = _csv(tmp_path / "good.csv", GOOD_ROWS)
    params = _params_file(tmp_path, _source(good), _feedback_source(tmp_path / "feedback"))
    assert _run(tmp_path, params) == 0
    combined = pd.read_csv(tmp_path / "out" / "combined.csv", keep_default_na=False)
    assert set(combined["source"]) == {"tiny"} and len(combined) == len(GOOD_ROWS)
    provenance = pd.read_json(tmp_path / "out" / "sources.json").to_dict("records")
    assert provenance[1]["name"] == "youtube_feedback" and provenance[1]["skipped"] == "optional, not present"


def test_the_newest_feedback_export_is_read_and_verified_against_its_sidecar(tmp_path):
    good = _csv(tmp_path / "good.csv", GOOD_ROWS)
    folder = tmp_path / "feedback"
    _export(folder, "2026-11-30", [("old export", 1)])
    newest = _export(folder, "2026-12-01", [("this slaps", 1), ("mid at best", -1)])
    params = _params_file(tmp_path, _source(good), _feedback_source(folder))
    assert _run(tmp_path, params) == 0
    combined = pd.read_csv(tmp_path / "out" / "combined.csv", keep_default_na=False)
    feedback = combined[combined["source"] == "youtube_feedback"]
    assert feedback["text"].tolist() == ["this slaps", "mid at best"]
    assert set(feedback["group"]) == {"feedback"}
    provenance = pd.read_json(tmp_path / "out" / "sources.json").to_dict("records")
    assert provenance[1]["files"] == [{"location": str(newest), "sha256": _sha(newest)}]


def test_a_feedback_export_edited_after_export_stops_the_stage(tmp_path, caplog):
    folder = tmp_path / "feedback"
    path = _export(folder, "2026-12-01", [("great", 1)])
    path.write_text("text,label\ngreat,-1\n")  # changed after its sidecar recorded the sha256
    params = _params_file(tmp_path, _feedback_source(folder))
    _expect_failure(tmp_path, caplog, params, "source 'youtube_feedback': sha256 mismatch", "export it again")


def test_a_feedback_export_without_its_sidecar_stops_the_stage(tmp_path, caplog):
    folder = tmp_path / "feedback"
    _export(folder, "2026-12-01", [("great", 1)])
    (folder / "feedback-2026-12-01.json").unlink()
    params = _params_file(tmp_path, _feedback_source(folder))
    _expect_failure(tmp_path, caplog, params, "has no readable sidecar feedback-2026-12-01.json",
                    "make feedback-source")


def test_a_required_source_is_still_an_error_when_absent(tmp_path, caplog):
    params = _params_file(tmp_path, _source(tmp_path / "absent.csv", sha256="0" * 64))
    _expect_failure(tmp_path, caplog, params, "source 'tiny': no file matches", "Fix:")
