# syntax=docker/dockerfile:1
# Serving image: gunicorn + the ytsentiment package (its API) + the exported production model, as a non-root user.
# Built and pushed by GitHub Actions (`make image`, `make push-image`); no Docker engine runs on the dev box, so
# tests/delivery/test_image.py proves these steps by running scripts/build-serve-env.sh into a clean venv and
# starting this CMD against an exported model on loopback.
# Tags are immutable, <git sha>-m<model version>; never :latest.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY scripts/build-serve-env.sh requirements-serve.txt ./
RUN sh build-serve-env.sh deps /opt/venv requirements-serve.txt
COPY pyproject.toml README.md ./
COPY src/ src/
RUN sh build-serve-env.sh package /opt/venv .

FROM ${PYTHON_IMAGE} AS runtime
ARG GIT_SHA=unknown
ARG MODEL_VERSION=unknown
LABEL org.opencontainers.image.title="ytsentiment" \
      org.opencontainers.image.description="YouTube comment sentiment API (gunicorn + Flask + scikit-learn)" \
      org.opencontainers.image.revision="${GIT_SHA}" \
      io.ytsentiment.model-version="${MODEL_VERSION}"
# libgomp1: the OpenMP runtime LightGBM needs to import (model.py imports it for the optional blend; the default
# served model is a logistic regression). Debian's security updates are wanted, so its version is not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY src/ytsentiment/api/gunicorn.conf.py /app/gunicorn.conf.py
COPY model/ /app/model/
# Code and model stay root-owned and read-only for the app user; matplotlib gets a writable cache in /tmp, and so
# do the fallback prediction log (production passes DATABASE_URL, a PostgreSQL URL, at `docker run`) and the log's
# spool (mount a volume there to keep rows waiting for the database across a container restart).
ENV PATH=/opt/venv/bin:$PATH \
    DATABASE_URL=sqlite:////tmp/ytsentiment/ytsentiment.db \
    PREDICTION_LOG_SPOOL_DIR=/tmp/ytsentiment/spool \
    PYTHONUNBUFFERED=1 \
    MODEL_URI=/app/model \
    HOST=0.0.0.0 \
    PORT=5000 \
    MPLCONFIGDIR=/tmp/matplotlib \
    MLFLOW_DISABLE_TELEMETRY=true
USER 10001:10001
EXPOSE 5000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/ready' % os.environ.get('PORT', '5000'), timeout=4)"]
CMD ["gunicorn", "-c", "/app/gunicorn.conf.py", "ytsentiment.api:create_app()"]
