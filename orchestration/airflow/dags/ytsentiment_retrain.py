"""Monitor → branch on the decision → retrain → gate → trigger CD.

``ytsentiment monitor`` writes ``<data>/monitor/<ds>/summary.json`` with ``decision``: ``retrain``, ``ok`` or
``not_enough_data``. Only ``retrain`` continues: retrain (DVC pipeline + register @candidate), then the gate
(``ytsentiment promote``: exit 2 = refused, the task is skipped and CD is not triggered), then CD (export, image,
ECR, CodeDeploy). Every command is an Airflow Variable (see ytsentiment_common), so a test or a staging Airflow can
point them at harmless commands.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, task
from ytsentiment_common import CD_DEFAULT, DEFAULT_ARGS, cli, data_dir, in_project, q, var

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

    @task.bash
    def monitor() -> str:
        default = f"{q(cli())} monitor --out {q(monitor_dir())}"
        return in_project(var("ytsentiment_monitor_cmd", default))

    @task.branch
    def decide(ds: str | None = None) -> str:
        import json
        from pathlib import Path

        summary = Path(data_dir()) / "monitor" / str(ds) / "summary.json"
        if not summary.is_file():
            raise FileNotFoundError(f"{summary} not written: did `ytsentiment monitor` run with --out "
                                    f"{summary.parent}?")
        decision = json.loads(summary.read_text(encoding="utf-8")).get("decision")
        print(f"monitor decision: {decision}")
        return "retrain" if decision == "retrain" else "no_retrain"

    @task.bash
    def retrain() -> str:
        return in_project(var("ytsentiment_retrain_cmd", "make repro && make register"))

    @task.bash(skip_on_exit_code=2)
    def gate() -> str:
        return in_project(var("ytsentiment_gate_cmd", f"{q(cli())} promote"))

    @task.bash
    def trigger_cd() -> str:
        return in_project(var("ytsentiment_cd_cmd", CD_DEFAULT))

    branch, training = decide(), retrain()
    monitor() >> branch >> [training, EmptyOperator(task_id="no_retrain")]
    training >> gate() >> trigger_cd()
