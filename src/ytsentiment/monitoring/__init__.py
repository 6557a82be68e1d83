"""The monitoring job behind ``ytsentiment monitor``: drift and live quality of the production model.

Modules (each cheap to import; pandas, Evidently, MLflow and SQLAlchemy are imported inside functions):

- its params: ``Params.monitor`` (``ytsentiment.config.MonitorParams``, the ``monitor:`` section of params.yaml).
- ``descriptors``: the text descriptors logged with every prediction (``describe``).
- ``core``: pure functions over DataFrames: ``select_window``, ``drift``, ``live_quality``, ``decide``.
- ``store``: reads predictions, feedback and the pinned baseline from the database; writes ``monitor_runs``.
- ``report``: the HTML report (decision, figures, Evidently's drift views) and the JSON summary.
- ``job``: ``run_monitor`` ties them together (+ one MLflow run); ``cli`` is the thin ``monitor`` verb.
"""
