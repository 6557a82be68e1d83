#!/usr/bin/env bash
# Build the serving image under its immutable tag: what `make image IMAGE_TAG=...` runs. A Docker engine is
# needed, so this runs in GitHub Actions (cd.yml), not on the development box.
#
#   scripts/build-image.sh <git sha>-m<model version>
#
# Refuses a tag that does not describe what is being built: it must equal `ytsentiment deploy tag` for this
# checkout (GITHUB_SHA, else HEAD) and the exported model in model/ (model_info.json). Uncommitted changes to
# what the image copies are refused too, since the sha in the tag would not describe them.
# Environment: IMAGE_NAME (local image name, default ytsentiment), PYTHON (default .venv/bin/python).
set -euo pipefail

die() {
  echo "build-image: $*" >&2
  exit 2
}
[[ $# -eq 1 && -n $1 ]] || die "usage: $0 <git sha>-m<model version>"
tag=$1
python=${PYTHON:-.venv/bin/python}
image_name=${IMAGE_NAME:-ytsentiment}

[[ -f model/MLmodel && -f model/model_info.json ]] || die "model/ has no exported model: run 'make export' first"
expected=$("$python" -m ytsentiment.deploy tag --model-info model/model_info.json) || die "cannot compute the tag"
[[ $tag == "$expected" ]] || die "IMAGE_TAG '$tag' does not describe this checkout and model/ (expected '$expected')"
if ! git diff --quiet HEAD -- Dockerfile requirements-serve.txt pyproject.toml src scripts/build-serve-env.sh; then
  die "uncommitted changes in files the image copies: commit them first, so the sha in the tag describes them"
fi

docker build --pull \
  --build-arg "GIT_SHA=${tag%-m*}" \
  --build-arg "MODEL_VERSION=${tag##*-m}" \
  --tag "$image_name:$tag" \
  .
echo "built $image_name:$tag"
