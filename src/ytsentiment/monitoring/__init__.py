"""The monitoring job behind ``ytsentiment monitor``: drift and live quality of the production model.

Modules (Evidently and MLflow are imported inside the functions that use them):

- its params: ``Params.monitor`` (``ytsentiment.config.MonitorParams``, the ``monitor:`` section of params.yaml).
- ``descriptors``: the text descriptors logged with every prediction (``describe``).
- ``core``: pure functions over DataFrames: ``drift``, ``live_quality``, ``decide``.
- ``report``: the HTML report (decision, figures, Evidently's drift views) and the JSON summary.
- ``job``: ``run_monitor`` ties them together (+ one MLflow run); ``cli`` is the thin ``monitor`` verb.

Its database reads and writes (predictions, feedback, the pinned baseline, ``monitor_runs``) are
``ytsentiment.storage.monitor``'s.
"""
