"""Run INSIDE the Airflow virtualenv by tests/batch/test_dags.py (never imported by the project's pytest).

    python airflow_driver.py check DAGS_DIR            → JSON: import errors, dags {id: {tags, owners, tasks, edges}}
    python airflow_driver.py test DAGS_DIR DAG_ID DATE... → dag.test(logical_date=DATE) per date, in one process;
                                                          JSON: {DATE: {state, tasks: {id: state}}}

AIRFLOW_HOME, the metadata DB and every AIRFLOW_VAR_* come from the environment the test sets.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path


def bag(dags: Path):
    from airflow.dag_processing.dagbag import BundleDagBag

    return BundleDagBag(dag_folder=str(dags), bundle_path=dags)


def check(dags: Path) -> dict:
    b = bag(dags)
    out = {"import_errors": {k: str(v)[-2000:] for k, v in b.import_errors.items()}, "dags": {}}
    for dag_id, dag in b.dags.items():
        dag.check_cycle()  # raises AirflowDagCycleException on a cycle (DagBag also refuses cyclic DAGs)
        out["dags"][dag_id] = {
            "tags": sorted(dag.tags), "owners": sorted({t.owner for t in dag.tasks}),
            "retries": sorted({t.retries for t in dag.tasks}), "schedule": str(dag.schedule),
            "catchup": dag.catchup, "tasks": sorted(dag.task_ids),
            "edges": sorted([t.task_id, d] for t in dag.tasks for d in t.downstream_task_ids),
        }
    return out


def test(dags: Path, dag_id: str, days: list[str]) -> dict:
    b = bag(dags)
    if b.import_errors:
        return {"import_errors": {k: str(v) for k, v in b.import_errors.items()}}
    dag = b.get_dag(dag_id)
    out = {}
    for day in days:
        run = dag.test(logical_date=datetime.fromisoformat(day).replace(tzinfo=UTC))
        tasks = {}
        for ti in run.get_task_instances():
            key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
            tasks[key] = str(ti.state)
        out[day] = {"state": str(run.state), "tasks": tasks}
    return out


if __name__ == "__main__":
    action, dags = sys.argv[1], Path(sys.argv[2]).resolve()
    result = check(dags) if action == "check" else test(dags, sys.argv[3], sys.argv[4:])
    print("RESULT " + json.dumps(result, sort_keys=True))
