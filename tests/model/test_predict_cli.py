"""`ytsentiment predict` on the small real model (conftest's ``trained_model_dir``), as a real process.

Expected labels and confidences come from the Pipeline itself (``predict`` and ``predict_proba`` called here), not
from the command's code; the model is found through MODEL_URI, through `.env`, and as `./model`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ytsentiment.contract import LABELS

COMMENTS = ["This video is amazing, thank you so much!", "worst tutorial ever, total waste of time",
            "uploaded at 3pm, part 2 tomorrow"]
MODEL_VARS = ("MODEL_URI", "MODEL_NAME", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def cli(cwd: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in MODEL_VARS}
    return subprocess.run([sys.executable, "-m", "ytsentiment.cli", *argv], cwd=cwd, env={**base, **env},
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def expected(trained_pipeline) -> list[tuple[str, float]]:
    frame = pd.DataFrame({"text": COMMENTS})
    labels = trained_pipeline.predict(frame)
    proba = np.asarray(trained_pipeline.predict_proba(frame))
    return [(LABELS[int(label)], float(row.max())) for label, row in zip(labels, proba, strict=True)]


def test_one_line_per_comment_from_model_uri(tmp_path, trained_model_dir, expected):
    done = cli(tmp_path, "predict", *COMMENTS, MODEL_URI=str(trained_model_dir))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(COMMENTS)
    for line, comment, (label, confidence) in zip(lines, COMMENTS, expected, strict=True):
        assert line == f"{label:<8}  {confidence:.2f}  {comment}"


def test_json_with_the_model_uri_from_dotenv(tmp_path, trained_model_dir, expected):
    (tmp_path / ".env").write_text(f"MODEL_URI={trained_model_dir}\n", encoding="utf-8")
    done = cli(tmp_path, "predict", "--json", *COMMENTS)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["model"]["uri"] == str(trained_model_dir) and document["model"]["version"] == "1"
    got = [(p["comment"], p["label"], p["sentiment"], p["confidence"]) for p in document["predictions"]]
    sentiment = {name: value for value, name in LABELS.items()}
    assert got == [(c, label, sentiment[label], pytest.approx(conf, abs=5e-5))
                   for c, (label, conf) in zip(COMMENTS, expected, strict=True)]


def test_exported_model_directory_in_the_working_directory(tmp_path, trained_model_dir, expected):
    shutil.copytree(trained_model_dir, tmp_path / "model")  # a copy: MLflow refuses a symlinked model directory
    done = cli(tmp_path, "predict", COMMENTS[0])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == expected[0][0]
    assert str(tmp_path / "model") in done.stderr  # the log line names the model it loaded
