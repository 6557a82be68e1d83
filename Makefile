# ytsentiment — the one command surface for people, CI and the GitHub workflows. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
# Stage commands in dvc.yaml call `python`: put the venv first on PATH for every recipe.
export PATH := $(abspath $(VENV))/bin:$(PATH)
export DVC_NO_ANALYTICS := 1
export MLFLOW_DISABLE_TELEMETRY := true
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION := false
HOST ?= 127.0.0.1
PORT ?= 5000
MLFLOW_UI_PORT ?= 5001
PYTEST_ARGS ?=

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json tests/delivery/node/package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	npm ci --prefix tests/delivery/node --no-audit --no-fund --loglevel=error
	touch $@

# Airflow in its own venv, so its dependencies never meet the model's; its tasks call this project's CLI.
AIRFLOW_VENV ?= .venv-airflow
$(AIRFLOW_VENV)/.installed: orchestration/airflow/requirements.txt
	test -x $(AIRFLOW_VENV)/bin/python || python3 -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet -r orchestration/airflow/requirements.txt
	touch $@

.PHONY: install airflow-venv
install: $(VENV)/.installed node_modules/.installed ## create .venv and node_modules from the pinned locks
airflow-venv: $(AIRFLOW_VENV)/.installed ## Airflow 3.3.2 in .venv-airflow (lock: orchestration/airflow/requirements.txt)

.PHONY: run
run: install ## the main job: dvc repro → register → gate/promote, then where to look
	dvc repro
	@ytsentiment summary
	test -f reports/run.json || dvc repro --force --single-item evaluate  # run.json is this machine's MLflow run
	ytsentiment register
	ytsentiment promote || { echo "The candidate was refused: production is unchanged (reports/promotion.json)."; exit 2; }
	@echo
	@echo "Metrics: reports/metrics.json · plots: reports/plots/ · model card: reports/model_card.md"
	@echo "Decision: reports/promotion.json · compare runs: make mlflow-ui (http://127.0.0.1:$(MLFLOW_UI_PORT))"
	@echo "Serve the promoted model: make serve"

.PHONY: repro stage-deps
repro: install ## dvc repro only
	dvc repro
stage-deps: install ## write each DVC stage's code deps (the src/ files its module imports) into dvc.yaml
	$(PY) -m ytsentiment.stages.graph --write

.PHONY: mlflow-ui
mlflow-ui: install ## open the MLflow UI on the tracking store (MLFLOW_TRACKING_URI or the embedded sqlite)
	mlflow ui --backend-store-uri "$${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}" \
	  --default-artifact-root ./mlartifacts --host 127.0.0.1 --port $(MLFLOW_UI_PORT)

.PHONY: test
test: install airflow-venv lint-js test-js ## run every test: JS lint + unit, then pytest (unit … extension, delivery)
	$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: test-outage
test-outage: install ## the prediction log's outage test with the database down 60 s (make test runs it for 3 s)
	OUTAGE_SECONDS=60 $(PY) -m pytest tests/storage/test_spool.py -k outage

.PHONY: lint lint-imports
lint: install lint-js lint-imports ## ruff on the Python code, the import layers, ESLint on the extension
	$(PY) -m ruff check src tests scripts
lint-imports: install ## import-linter: layers only import downward, no cycles (pyproject.toml [tool.importlinter])
	PYTHONPATH=src lint-imports --no-cache

.PHONY: typecheck
typecheck: install ## mypy on src/ytsentiment (settings: pyproject.toml [tool.mypy])
	$(PY) -m mypy

.PHONY: lint-js
lint-js: install ## ESLint the Chrome extension
	npx eslint chrome-extension tests/extension eslint.config.mjs

.PHONY: test-js
test-js: install ## unit tests of the extension's pure logic (node --test)
	node --test tests/extension/

.PHONY: pre-commit
pre-commit: install ## every pre-commit hook on every file: ruff, detect-secrets, shellcheck, hadolint, actionlint
	$(PY) -m pre_commit run --all-files

# ---- registry ---------------------------------------------------------------------------------------------------
.PHONY: register
register: install ## register reports/run.json's model as a new version with alias @candidate (+ model card)
	test -f reports/run.json || dvc repro --force --single-item evaluate  # run.json is this machine's MLflow run
	ytsentiment register

.PHONY: promote
promote: install ## gate @candidate (contract, behaviour, latency, floors, vs @production on the same rows)
	ytsentiment promote

.PHONY: rollback
rollback: install ## move @production back to @previous
	ytsentiment rollback

.PHONY: export
export: install ## copy the @production model to model/ (what the Docker image serves)
	ytsentiment export --out model

.PHONY: summary
summary: install ## Markdown of the metrics and the last promotion decision (CI job summary)
	@ytsentiment summary

# ---- serving ----------------------------------------------------------------------------------------------------
.PHONY: serve
serve: install ## serve the API with gunicorn on HOST:PORT (default 127.0.0.1:5000), MODEL_URI or @production
	HOST=$(HOST) PORT=$(PORT) gunicorn -c src/ytsentiment/api/gunicorn.conf.py "ytsentiment.api:create_app()"

.PHONY: db-upgrade purge
db-upgrade: install ## create or migrate the prediction-log database (DATABASE_URL; default var/ytsentiment.db)
	ytsentiment db-upgrade
purge: install ## delete logged predictions older than PREDICTION_LOG_RETENTION_DAYS (OLDER_THAN=30d overrides)
	ytsentiment purge $(if $(OLDER_THAN),--older-than $(OLDER_THAN))

.PHONY: bench-api
bench-api: install ## in-process vs gunicorn (log off, on, + challenger): throughput, p50/p95, RSS, ready
	$(PY) scripts/bench_api.py

.PHONY: bench-soak
bench-soak: install ## mixed traffic for 90 s with a worker killed, PostgreSQL stopped and a slow client: 5xx, rows, RSS
	$(PY) scripts/bench_soak.py

# ---- monitor and improve --------------------------------------------------------------------------------------
.PHONY: monitor monitoring-check monitoring-up feedback-source
monitor: install ## drift + live quality of @production -> reports/monitor/{report.html,summary.json}, MLflow, DB
	ytsentiment monitor $(MONITOR_ARGS)
monitoring-check: ## promtool and amtool: check the Prometheus and Alertmanager configs and rules, run the rules' tests
	promtool check config ops/prometheus/prometheus.yml
	promtool check rules ops/prometheus/rules/*.rules.yml
	cd ops/prometheus && promtool test rules tests/*.test.yml
	amtool check-config ops/alertmanager/alertmanager.yml
monitoring-up: ## API + Prometheus + Grafana in Docker (needs Docker and model/: make export)
	docker compose -f ops/docker-compose.yml up --build
feedback-source: install ## export the feedback people gave into feedback/ (the ingest source youtube_feedback)
	ytsentiment feedback export --out feedback

# ---- better answers ---------------------------------------------------------------------------------------------
TRIALS ?= 20
TIMEOUT ?= 900
TUNE_ROWS ?= 40000
.PHONY: tune
tune: install ## Optuna search of featurize/train knobs -> MLflow ytsentiment-tune, resumable (TRIALS TIMEOUT TUNE_ROWS)
	ytsentiment tune --trials $(TRIALS) --timeout $(TIMEOUT) --rows $(TUNE_ROWS)

# ---- channel scale ----------------------------------------------------------------------------------------------
.PHONY: collect bench-score
collect: install ## YouTube comments -> Parquet (CHANNEL=@handle or VIDEOS="id ...", OUT=var/comments; YOUTUBE_API_KEY)
	ytsentiment collect $(if $(CHANNEL),--channel $(CHANNEL),--videos $(VIDEOS)) --out $(or $(OUT),var/comments)
bench-score: install ## in-process vs pandas engine vs Spark local[2] on 200k comments, + a 1M-row memory run
	$(PY) scripts/bench_score.py

.PHONY: demo
demo: install ## everything locally, no key/data/cloud: API + YouTube stand-in + batch path + monitor (Ctrl-C stops)
	ytsentiment demo $(DEMO_ARGS)

# ---- docs -------------------------------------------------------------------------------------------------------
# MkDocs Material from docs/ (config: mkdocs.yml); NO_MKDOCS_2_WARNING silences Material's banner about MkDocs 2.0.
DOCS_PORT ?= 8000
.PHONY: docs docs-serve api-reference
docs: install ## build the docs site into site/ with --strict (a warning or broken link fails; also run by make test)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site
docs-serve: install ## serve the docs site with live reload on http://127.0.0.1:8000 (DOCS_PORT=... for another port)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)
api-reference: install ## regenerate docs/api/openapi.json from the app's /openapi.json (tests fail when it is stale)
	$(PY) -m ytsentiment.api.apidoc

# ---- delivery ---------------------------------------------------------------------------------------------------
.PHONY: dvc-pull dvc-push image-tag image push-image deploy
dvc-pull: install ## pull data and cached stage outputs from the S3 remote in DVC_REMOTE_URL
	scripts/dvc-s3.sh pull
dvc-push: install ## push data and stage outputs to the S3 remote in DVC_REMOTE_URL
	scripts/dvc-s3.sh push
image-tag: install ## print the immutable image tag of this checkout and model/ (<git sha>-m<model version>)
	@$(PY) -m ytsentiment.deploy tag
image: install ## build the serving image ytsentiment:$(IMAGE_TAG) (needs Docker and `make export`; runs in CD)
	scripts/build-image.sh "$(IMAGE_TAG)"
push-image: install ## push ytsentiment:$(IMAGE_TAG) to ECR (AWS_REGION, ECR_REPOSITORY)
	scripts/push-image.sh "$(IMAGE_TAG)"
deploy: install ## roll $(IMAGE_TAG) out with CodeDeploy and wait (AWS_REGION, ECR_REPOSITORY, DEPLOY_BUCKET, CODEDEPLOY_APP, CODEDEPLOY_GROUP)
	$(PY) -m ytsentiment.deploy release --image-tag "$(IMAGE_TAG)"

# ---- Kubernetes (deploy/k8s, docs/kubernetes.md) ------------------------------------------------------------
K8S_RELEASE_DIR ?= deploy/k8s/overlays/release
.PHONY: k8s-rules k8s-release k8s-render
k8s-rules: install ## regenerate deploy/k8s/base/prometheusrule.yaml from ops/prometheus/rules (tests fail when stale)
	$(PY) scripts/k8s_rules.py
k8s-release: ## write the git-ignored release overlay: IMAGE=<registry>/ytsentiment:<tag> MONITOR_IMAGE=<...>:<tag>
	scripts/k8s-release.sh "$(K8S_RELEASE_DIR)" "$(IMAGE)" "$(MONITOR_IMAGE)"
k8s-render: install ## print the manifests kubectl apply -k would send (K8S_OVERLAY, default the release overlay)
	kubectl kustomize "$(or $(K8S_OVERLAY),$(K8S_RELEASE_DIR))"

.PHONY: bench-train
bench-train: install ## time every pipeline stage on the default sources (forces a full repro)
	$(PY) scripts/bench_train.py
