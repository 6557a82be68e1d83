"""One module per DVC stage (ingest, clean, featurize, train, evaluate), each a thin ``main()`` run by dvc.yaml as
``python -m ytsentiment.stages.<stage>``; ``graph`` (not a stage) derives each stage's code deps from its imports."""
