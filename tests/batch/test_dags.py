"""The Airflow DAGs, run by the Airflow 3 virtualenv (.venv-airflow, `make airflow-venv`) in a subprocess.

A DagBag import test (no import errors, no cycles, tags, owners, the expected edges), a per-task test of what makes a
schedule fail loudly rather than quietly (an execution_timeout everywhere, retries only where a task is idempotent,
the YouTube pool on every collect, the monitor's decision passed by XCom) and ``dag.test()`` runs: the channel ETL
against the fake YouTube API with the small real model (collect → score → load → report through the project's CLI),
and the retrain DAG down both branches (the real `ytsentiment monitor` deciding "not_enough_data" on an empty
database, then a stand-in monitor deciding "retrain" with harmless retrain/gate/CD commands).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from batch.fake_youtube import FakeChannel, FakeVideo, FakeYouTube

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "orchestration" / "airflow" / "dags"
AIRFLOW_PY = REPO / ".venv-airflow" / "bin" / "python"
DRIVER = Path(__file__).with_name("airflow_driver.py")
CLI = Path(sys.executable).with_name("ytsentiment")
CHANNEL = "UC" + "d" * 22
POOL, POOL_SLOTS = "youtube_api", 1  # ytsentiment_common.YOUTUBE_POOL / YOUTUBE_POOL_SLOTS, as docs/channel-scale.md
NOT_IDEMPOTENT = {"retrain", "trigger_cd"}  # a new model version, a deployment: never retried
MAX_TIMEOUT = timedelta(hours=12)
# Run in the Airflow venv: every task's retries, timeout and pool, the decide task's inputs, the pools in the
# metadata DB and the DagBag's warnings about pools that do not exist there.
INSPECT = """
import json, sys
sys.path.insert(0, sys.argv[2])
from airflow.models.pool import Pool
from airflow.dag_processing.dagbag import BundleDagBag
pools = {p.pool: p.slots for p in Pool.get_pools()}
bag = BundleDagBag(dag_folder=sys.argv[1], bundle_path=sys.argv[1], known_pools=set(pools))
out = {"pools": pools, "warnings": sorted(w.message for w in bag.dag_warnings), "dags": {}}
for dag_id, dag in bag.dags.items():
    out["dags"][dag_id] = {t.task_id: {
        "retries": t.retries, "pool": t.pool, "pool_slots": t.pool_slots,
        "timeout": t.execution_timeout.total_seconds() if t.execution_timeout else None,
        "xcom_inputs": sorted(a.operator.task_id for a in getattr(t, "op_args", ()) if hasattr(a, "operator")),
    } for t in dag.tasks}
print("RESULT " + json.dumps(out, sort_keys=True))
"""


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory) -> dict[str, str]:
    """A throw-away AIRFLOW_HOME with a migrated SQLite metadata DB; no AIRFLOW_VAR_* from the caller."""
    if not AIRFLOW_PY.is_file():
        pytest.fail(f"the Airflow virtualenv is missing ({AIRFLOW_PY}): run `make airflow-venv`")
    home = tmp_path_factory.mktemp("airflow-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "YOUTUBE_", "PYTHONPATH"))}
    env.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "MLFLOW_DISABLE_TELEMETRY": "true",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"})
    for command in (["db", "migrate"], ["pools", "set", POOL, str(POOL_SLOTS), "YouTube Data API quota"]):
        done = subprocess.run([str(AIRFLOW_PY.with_name("airflow")), *command], env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return env


def metadata_db(env: dict[str, str]) -> sqlite3.Connection:
    return sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db")


def driver(env: dict[str, str], *args: str, timeout: float = 400) -> dict:
    done = subprocess.run([str(AIRFLOW_PY), str(DRIVER), args[0], str(DAGS), *args[1:]], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, f"exit {done.returncode}\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
    return json.loads(lines[-1][len("RESULT "):])


def test_dagbag_imports_both_dags_with_owners_tags_retries_and_edges(airflow_env):
    result = driver(airflow_env, "check")
    assert result["import_errors"] == {}
    dags = result["dags"]
    assert set(dags) == {"ytsentiment_channels", "ytsentiment_retrain"}
    for dag in dags.values():
        assert "ytsentiment" in dag["tags"] and dag["owners"] == ["ytsentiment"]
        assert dag["schedule"] == "@daily" and dag["catchup"] is False
    etl = {tuple(e) for e in dags["ytsentiment_channels"]["edges"]}
    assert {("channel_etl.collect", "channel_etl.score"), ("channel_etl.score", "channel_etl.load"),
            ("channel_etl.load", "channel_etl.report"), ("configured_channels", "channel_etl.collect")} <= etl
    assert {tuple(e) for e in dags["ytsentiment_retrain"]["edges"]} == {
        ("monitor", "decide"), ("decide", "retrain"), ("decide", "no_retrain"), ("retrain", "gate"),
        ("gate", "trigger_cd")}


# Run in the Airflow venv: the channels the DAG reads without a Variable (ytsentiment_common.var stubbed).
CHANNELS = """
import json, sys
sys.path.insert(0, sys.argv[1])
import ytsentiment_common as common
given = {"ytsentiment_project_dir": sys.argv[2], "ytsentiment_bin": sys.argv[3]}
common.var = lambda name, default="": given.get(name, default)
try:
    print("RESULT " + json.dumps(common.channels()))
except ValueError as exc:
    print("RESULT " + json.dumps(str(exc)))
"""


@pytest.mark.parametrize(("channels", "expected"), [
    (["@dagchannel", f" {CHANNEL} ", "@dagchannel"], ["@dagchannel", CHANNEL]),
    ([], "no channels configured"),
    ("@notalist", "params channels` failed"),
])
def test_without_the_variable_the_dag_reads_channels_through_the_project_loader(airflow_env, tmp_path, channels,
                                                                                   expected):
    """The Airflow venv has no ytsentiment package: the channels come from `ytsentiment params channels`, which
    validates them (a bad section fails the task with the loader's message)."""
    import yaml

    raw = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**raw, "channels": channels}), encoding="utf-8")
    done = subprocess.run([str(AIRFLOW_PY), "-c", CHANNELS, str(DAGS), str(tmp_path), str(CLI)],
                          env={**airflow_env, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}, capture_output=True,
                          text=True, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert result == expected if isinstance(expected, list) else expected in result, result


@pytest.fixture(scope="module")
def task_settings(airflow_env) -> dict:
    done = subprocess.run([str(AIRFLOW_PY), "-c", INSPECT, str(DAGS), str(DRIVER.parent)], env=airflow_env, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, f"exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return json.loads(lines[-1][len("RESULT "):])


def test_every_task_has_an_execution_timeout(task_settings):
    for dag_id, tasks in task_settings["dags"].items():
        for task_id, settings in tasks.items():
            assert settings["timeout"] is not None, f"{dag_id}.{task_id} has no execution_timeout"
            assert 0 < settings["timeout"] <= MAX_TIMEOUT.total_seconds(), (dag_id, task_id, settings["timeout"])


def test_only_idempotent_tasks_are_retried(task_settings):
    retries = {task_id: s["retries"] for tasks in task_settings["dags"].values() for task_id, s in tasks.items()}
    assert NOT_IDEMPOTENT <= set(retries)
    assert {t: retries[t] for t in NOT_IDEMPOTENT} == dict.fromkeys(NOT_IDEMPOTENT, 0)
    assert all(n >= 1 for t, n in retries.items() if t not in NOT_IDEMPOTENT), retries


def test_collect_tasks_share_the_youtube_pool(task_settings):
    """Every collect runs in the pool (one slot, so mapped channels never spend one quota in parallel); no other task
    takes its slot; the pool exists in the metadata DB and the DagBag knows of no missing pool."""
    channels = task_settings["dags"]["ytsentiment_channels"]
    assert channels["channel_etl.collect"]["pool"] == POOL and channels["channel_etl.collect"]["pool_slots"] == 1
    in_pool = [f"{d}.{t}" for d, tasks in task_settings["dags"].items() for t, s in tasks.items() if s["pool"] == POOL]
    assert in_pool == ["ytsentiment_channels.channel_etl.collect"]
    assert task_settings["warnings"] == []
    assert task_settings["pools"][POOL] == POOL_SLOTS


def test_the_branch_reads_the_monitor_decision_from_xcom(task_settings):
    retrain = task_settings["dags"]["ytsentiment_retrain"]
    assert retrain["decide"]["xcom_inputs"] == ["monitor"]


def test_dag_files_do_no_work_at_parse_time():
    """Parsing must not touch a database, the network or heavy libraries: only airflow.sdk and the stdlib."""
    for path in DAGS.glob("*.py"):
        top = [line for line in path.read_text(encoding="utf-8").splitlines()
               if line.startswith(("import ", "from "))]
        for line in top:
            module = line.split()[1]
            assert module.split(".")[0] in {"__future__", "airflow", "datetime", "pathlib", "re", "shlex",
                                            "ytsentiment_common"}, f"{path.name}: top-level {line!r}"


def channel_videos(training_sources) -> list[FakeVideo]:
    texts = training_sources["youtube_thelwall"]["text"].tolist()
    videos = []
    for v, n in enumerate((25, 15)):
        video = FakeVideo(f"dagvid{v:05d}", CHANNEL, title=f"video {v}")
        for i in range(n):
            video.add_thread(texts[v * 100 + i], datetime(2025, 11, 1, tzinfo=UTC) + timedelta(days=2 * i), likes=i,
                             author=f"UCauthor{i % 7:016d}")
        videos.append(video)
    return videos


def test_channel_etl_dag_runs_collect_score_load_report_end_to_end(airflow_env, tmp_path, trained_model_dir,
                                                                      training_sources):
    from sqlalchemy import select

    from ytsentiment.storage.batch_models import ChannelLoad, VideoAggregate
    from ytsentiment.storage.db import make_engine, session_scope

    videos = channel_videos(training_sources)
    data, db = tmp_path / "data", f"sqlite:///{tmp_path / 'batch.db'}"
    with FakeYouTube(videos, [FakeChannel(CHANNEL, "@dagchannel", [v.video_id for v in videos])]) as fake:
        env = {**airflow_env, **fake.env(), "DATABASE_URL": db,
               "AIRFLOW_VAR_YTSENTIMENT_BIN": str(CLI), "AIRFLOW_VAR_YTSENTIMENT_DATA_DIR": str(data),
               "AIRFLOW_VAR_YTSENTIMENT_CHANNELS": json.dumps([CHANNEL]),
               "AIRFLOW_VAR_YTSENTIMENT_MODEL_URI": str(trained_model_dir)}
        result = driver(env, "test", "ytsentiment_channels", "2026-02-01")["2026-02-01"]
    assert result["state"] == "success", result
    assert result["tasks"] == {"configured_channels": "success", **{
        f"channel_etl.{t}[0]": "success" for t in ("collect", "score", "load", "report")}}
    folder = data / CHANNEL
    assert len(pd.read_parquet(folder / "scores" / "2026-02-01.parquet")) == 40
    assert "Comment sentiment of" in (folder / "reports" / "2026-02-01.html").read_text(encoding="utf-8")
    engine = make_engine(db)
    with session_scope(engine) as session:
        load = session.scalars(select(ChannelLoad)).one()
        counts = dict(session.execute(select(VideoAggregate.video_id, VideoAggregate.n_comments)).all())
    engine.dispose()
    assert (load.channel_id, str(load.run_date), load.n_comments) == (CHANNEL, "2026-02-01", 40)
    assert counts == {"dagvid00000": 25, "dagvid00001": 15}


def test_retrain_dag_takes_each_branch_on_the_monitor_decision(airflow_env, tmp_path):
    """2026-02-01: the real monitor on an empty database says not_enough_data → only no_retrain runs.
    2026-02-02: a stand-in monitor says retrain → retrain, gate and CD run, in that order."""
    data, steps = tmp_path / "data", tmp_path / "steps.txt"
    db = f"sqlite:///{tmp_path / 'monitor.db'}"
    subprocess.run([str(CLI), "db-upgrade"], check=True, capture_output=True, cwd=tmp_path,
                   env={**os.environ, "DATABASE_URL": db})
    real = (f"{CLI} monitor --out {data}/monitor/{{{{ ds }}}} --database-url {db} --no-mlflow --model-version 1 "
            f"--params {REPO / 'params.yaml'}")
    fake = (f"mkdir -p {data}/monitor/{{{{ ds }}}} && "
            f"echo '{{\"decision\": \"retrain\"}}' > {data}/monitor/{{{{ ds }}}}/summary.json")
    env = {**airflow_env, "AIRFLOW_VAR_YTSENTIMENT_DATA_DIR": str(data),
           "AIRFLOW_VAR_YTSENTIMENT_MONITOR_CMD": f'if [ "{{{{ ds }}}}" = 2026-02-01 ]; then {real}; else {fake}; fi',
           "AIRFLOW_VAR_YTSENTIMENT_RETRAIN_CMD": f"echo retrain >> {steps}",
           "AIRFLOW_VAR_YTSENTIMENT_GATE_CMD": f"echo gate >> {steps}",
           "AIRFLOW_VAR_YTSENTIMENT_CD_CMD": f"echo cd >> {steps}"}
    runs = driver(env, "test", "ytsentiment_retrain", "2026-02-01", "2026-02-02")
    quiet, busy = runs["2026-02-01"], runs["2026-02-02"]
    assert json.loads((data / "monitor" / "2026-02-01" / "summary.json").read_text())["decision"] == "not_enough_data"
    assert quiet["state"] == "success", quiet
    assert quiet["tasks"] == {"monitor": "success", "decide": "success", "no_retrain": "success",
                              "retrain": "skipped", "gate": "skipped", "trigger_cd": "skipped"}
    assert busy["state"] == "success", busy
    assert busy["tasks"] == {"monitor": "success", "decide": "success", "no_retrain": "skipped",
                             "retrain": "success", "gate": "success", "trigger_cd": "success"}
    assert steps.read_text().split() == ["retrain", "gate", "cd"]
    # the decision travelled as the monitor task's XCom (one per run), not through a file the branch reads
    with metadata_db(airflow_env) as db:
        pushed = db.execute("SELECT substr(r.logical_date, 1, 10), x.value FROM xcom x JOIN dag_run r ON "
                            "r.dag_id = x.dag_id AND r.run_id = x.run_id WHERE x.dag_id = 'ytsentiment_retrain' AND "
                            "x.task_id = 'monitor' AND x.key = 'return_value' ORDER BY 1").fetchall()
    assert [(day, json.loads(value)) for day, value in pushed] == [
        ("2026-02-01", "not_enough_data"), ("2026-02-02", "retrain")], pushed

