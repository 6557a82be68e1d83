"""Daily channel ETL: for every configured channel, collect → score → load → report.

One mapped task group per channel (the list is read when the run starts: Variable ``ytsentiment_channels``, else
``channels:`` in params.yaml). ``{{ ds }}`` is the run key: scores and the report are written per date (overwritten
atomically on a re-run), and ``load`` replaces the (channel, date) rows in one transaction, so clearing and re-running
a day, or a retry after a failure, never doubles anything. ``collect`` is incremental (only new comments are fetched).
Every task has an ``execution_timeout``; the collect tasks share the pool ``youtube_api`` (see ytsentiment_common), so
channels are collected one at a time however many are mapped, and one API key's quota is not spent in parallel.

    <data>/<channel>/comments/video_id=<id>/part-*.parquet    collect (incremental, all dates)
    <data>/<channel>/scores/<ds>.parquet                       score
    database (DATABASE_URL)                                     load, key (channel id, ds)
    <data>/<channel>/reports/<ds>.html                          report
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG, task, task_group
from ytsentiment_common import DEFAULT_ARGS, YOUTUBE_POOL, cli, data_dir, in_project, q, slug, var

with DAG(
    dag_id="ytsentiment_channels",
    description="collect → score → load → report, per channel, daily",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["ytsentiment", "batch", "etl"],
    doc_md=__doc__,
) as dag:

    @task(execution_timeout=timedelta(minutes=5))
    def configured_channels() -> list[str]:
        from ytsentiment_common import channels

        return channels()

    def folder(channel: str) -> str:
        return f"{data_dir()}/{slug(channel)}"

    @task.bash(pool=YOUTUBE_POOL, pool_slots=1, execution_timeout=timedelta(hours=2))
    def collect(channel: str) -> str:
        extra = var("ytsentiment_collect_args")
        return in_project(f"{q(cli())} collect --channel {q(channel)} --out {q(folder(channel) + '/comments')} "
                          f"--summary-json {q(folder(channel) + '/collect-{{ ds }}.json')} {extra}")

    @task.bash(execution_timeout=timedelta(hours=2))
    def score(channel: str) -> str:
        model = var("ytsentiment_model_uri")
        model_arg = f"--model-uri {q(model)}" if model else ""
        return in_project(f"{q(cli())} score {q(folder(channel) + '/comments')} "
                          f"--out {q(folder(channel) + '/scores/{{ ds }}.parquet')} {model_arg} "
                          f"{var('ytsentiment_score_args')}")

    @task.bash(execution_timeout=timedelta(minutes=30))
    def load(channel: str) -> str:
        return in_project(f"{q(cli())} load {q(folder(channel) + '/scores/{{ ds }}.parquet')} "
                          f"--channel {q(channel)} --date {{{{ ds }}}}")

    @task.bash(execution_timeout=timedelta(minutes=30))
    def report(channel: str) -> str:
        return in_project(f"{q(cli())} report --channel {q(channel)} --date {{{{ ds }}}} "
                          f"--out {q(folder(channel) + '/reports/{{ ds }}.html')}")

    @task_group
    def channel_etl(channel: str):
        collect(channel) >> score(channel) >> load(channel) >> report(channel)

    channel_etl.expand(channel=configured_channels())
