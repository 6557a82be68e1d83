"""Monitor → branch on the decision → retrain → gate → trigger CD.

``ytsentiment monitor`` writes ``<data>/monitor/<ds>/summary.json`` with ``decision``: ``retrain``, ``ok`` or
``not_enough_data``. The monitor task reads the decision from that file on its own worker and pushes it as its XCom
(the last line of its output); the branch reads the XCom, never the file, so the two tasks may run on different
workers. Only ``retrain`` continues: retrain (DVC pipeline + register @candidate), then the gate
(``ytsentiment promote``: exit 2 = refused, the task is skipped and CD is not triggered), then CD (export, image,
ECR, CodeDeploy). ``retrain`` and ``trigger_cd`` are not idempotent (a new model version, a deployment), so they are
never retried; every task has an ``execution_timeout``. Every command is an Airflow Variable (see
ytsentiment_common), so a test or a staging Airflow can point them at harmless commands.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, task
from ytsentiment_common import CD_DEFAULT, DEFAULT_ARGS, NO_RETRY, cli, data_dir, in_project, q, var

DECISIONS = ("retrain", "ok", "not_enough_data")
# Run by the worker's own Python after the monitor command: prints summary.json's decision as the last output line.
READ_DECISION = (
    "import json, sys; path = sys.argv[1]; decision = json.load(open(path, encoding='utf-8')).get('decision'); "
    f"ok = decision in {DECISIONS!r}; print(decision if ok else 'no decision in ' + path, file=sys.stdout if ok else "
    "sys.stderr); sys.exit(0 if ok else 1)"
)

with DAG(
    dag_id="ytsentiment_retrain",
    description="monitor → decision → retrain → gate → CD",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["ytsentiment", "monitoring", "retrain"],
    doc_md=__doc__,
) as dag:

    def monitor_dir() -> str:
        return f"{data_dir()}/monitor/{{{{ ds }}}}"

    @task.bash(execution_timeout=timedelta(hours=1))
    def monitor() -> str:
        """The monitor command, then its decision as the last line of output (pushed as this task's XCom)."""
        import sys

        default = f"{q(cli())} monitor --out {q(monitor_dir())}"
        summary = f"{monitor_dir()}/summary.json"
        read = f"{q(sys.executable)} -c {q(READ_DECISION)} {q(summary)}"
        return in_project(f"{var('ytsentiment_monitor_cmd', default)}\n{read}")

    @task.branch(execution_timeout=timedelta(minutes=5))
    def decide(decision: str) -> str:
        if decision not in DECISIONS:
            raise ValueError(f"monitor pushed {decision!r}, not one of {DECISIONS}")
        print(f"monitor decision: {decision}")
        return "retrain" if decision == "retrain" else "no_retrain"

    @task.bash(execution_timeout=timedelta(hours=6), **NO_RETRY)
    def retrain() -> str:
        return in_project(var("ytsentiment_retrain_cmd", "make repro && make register"))

    @task.bash(skip_on_exit_code=2, execution_timeout=timedelta(minutes=30))
    def gate() -> str:
        return in_project(var("ytsentiment_gate_cmd", f"{q(cli())} promote"))

    @task.bash(execution_timeout=timedelta(hours=1), **NO_RETRY)
    def trigger_cd() -> str:
        return in_project(var("ytsentiment_cd_cmd", CD_DEFAULT))

    branch, training = decide(monitor()), retrain()
    branch >> [training, EmptyOperator(task_id="no_retrain", execution_timeout=timedelta(minutes=5))]
    training >> gate() >> trigger_cd()
