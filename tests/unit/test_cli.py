"""The `ytsentiment` CLI without a model: --version, which model `predict` picks, its refusal when there is none,
its line format, and `.env` (read by main(); a variable already in the environment wins).

Each CLI run is a real process in a temporary working directory, so neither the repo's `.env`, `model/` or
`mlflow.db` nor this process's environment can leak in. The real-model runs are in tests/model/test_predict_cli.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ytsentiment.config import ProjectSettings
from ytsentiment.environ import load_env_file
from ytsentiment.predict import NO_MODEL_FIX, choose_model, format_row

REPO = Path(__file__).resolve().parents[2]
# Variables that would choose a model or a store for the command under test.
MODEL_VARS = ("MODEL_URI", "MODEL_NAME", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def cli(cwd: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in MODEL_VARS}
    return subprocess.run([sys.executable, "-m", "ytsentiment.cli", *argv], cwd=cwd, env={**base, **env},
                          capture_output=True, text=True, timeout=120)


def test_version_is_pyprojects(tmp_path):
    expected = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    done = cli(tmp_path, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"ytsentiment {expected}\n"


def test_help_imports_no_verb_module(tmp_path):
    # Each verb's module is imported only when that verb runs: listing them loads no database or data library.
    code = ("import sys; from ytsentiment.cli import build_parser; build_parser().format_help(); "
            "print(sorted(m for m in ('sqlalchemy', 'alembic', 'pandas', 'ytsentiment.batch.score') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    done = cli(tmp_path, "score", "--help")
    assert done.returncode == 0 and "--engine" in done.stdout, done.stderr


def test_predict_without_any_model_exits_2_with_the_fix(tmp_path):
    done = cli(tmp_path, "predict", "nice video")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    assert "models:/ytsentiment@production" in done.stderr and NO_MODEL_FIX in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "mlflow.db").exists(), "the refusal must not create an empty MLflow store"


def test_predict_with_a_store_but_no_production_model_exits_2_with_the_fix(tmp_path):
    import mlflow

    store = f"sqlite:///{tmp_path / 'empty.db'}"
    assert mlflow.MlflowClient(tracking_uri=store, registry_uri=store).search_registered_models() == []
    done = cli(tmp_path, "predict", "nice video", MLFLOW_TRACKING_URI=store)
    assert done.returncode == 2, done.stdout + done.stderr
    assert NO_MODEL_FIX in done.stderr and "Traceback" not in done.stderr


def test_predict_with_a_model_uri_that_is_not_a_model_exits_2(tmp_path):
    (tmp_path / "not-a-model").mkdir()
    done = cli(tmp_path, "predict", "nice video", MODEL_URI=str(tmp_path / "not-a-model"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "not-a-model" in done.stderr and "MODEL_URI" in done.stderr and "Traceback" not in done.stderr


def test_dotenv_is_read_and_the_environment_wins(tmp_path):
    # The refusal names the registry URI it looked for, so it shows which MODEL_NAME the CLI saw.
    (tmp_path / ".env").write_text("# a comment\nMODEL_NAME=from-dotenv\nMODEL_URI=\n", encoding="utf-8")
    seen = cli(tmp_path, "predict", "nice video")
    assert seen.returncode == 2 and "models:/from-dotenv@production" in seen.stderr, seen.stderr
    wins = cli(tmp_path, "predict", "nice video", MODEL_NAME="from-environment")
    assert wins.returncode == 2 and "models:/from-environment@production" in wins.stderr, wins.stderr
    assert "from-dotenv" not in wins.stderr


def test_load_env_file_sets_only_what_is_missing(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text('A=from-file\nB=from-file\nBLANK=\nQUOTED="two words"\nEMPTY_SET=from-file\n',
                        encoding="utf-8")
    environ = {"B": "from-env", "EMPTY_SET": ""}
    assert load_env_file(env_file, environ) == ["A", "QUOTED"]
    assert environ == {"A": "from-file", "B": "from-env", "EMPTY_SET": "", "QUOTED": "two words"}
    assert load_env_file(tmp_path / "missing.env", environ) == []


@pytest.mark.parametrize(("given", "environ", "exported", "expected"), [
    ("models:/m/3", {"MODEL_URI": "models:/m@x"}, True, ("models:/m/3", "--model-uri")),
    (None, {"MODEL_URI": " models:/m@x "}, True, ("models:/m@x", "MODEL_URI")),
    (None, {"MODEL_URI": "  "}, True, ("{cwd}/model", "the exported model in {cwd}/model")),
    (None, {}, False, ("models:/name@production", "the registry")),
])
def test_choose_model_order(tmp_path, given, environ, exported, expected):
    if exported:
        (tmp_path / "model").mkdir()
        (tmp_path / "model" / "MLmodel").write_text("flavors: {}\n", encoding="utf-8")
    uri, origin = choose_model(given, ProjectSettings.from_env(environ), tmp_path, "name")
    assert (uri, origin) == tuple(part.format(cwd=tmp_path) for part in expected)


def test_an_empty_model_directory_is_not_a_model(tmp_path):
    (tmp_path / "model").mkdir()
    assert choose_model(None, ProjectSettings(), tmp_path, "ytsentiment") == (
        "models:/ytsentiment@production", "the registry")


@pytest.mark.parametrize(("comment", "line"), [
    ("love it", "positive  0.91  love it"),
    ("two\nlines\tand \x1b[31mred", "positive  0.91  two\\nlines\\tand \\x1b[31mred"),
    ("emoji 😍 and accents é stay", "positive  0.91  emoji 😍 and accents é stay"),
])
def test_format_row_keeps_one_line(comment, line):
    assert format_row({"comment": comment, "label": "positive", "confidence": 0.9051}) == line
