"""Hyperparameter search (``ytsentiment tune``): Optuna over the featurize and train knobs, tracked in MLflow.

``space``: the ``tune:`` section of params.yaml (ranges, subsample, pruning) and the ``dvc exp run -S`` line that
adopts a trial; ``search``: the subsample, one trial (fit, latency, scores) and the resumable study; ``cli``: the verb.
"""
