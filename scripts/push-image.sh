#!/usr/bin/env bash
# Push the image built by scripts/build-image.sh to ECR: what `make push-image IMAGE_TAG=...` runs.
#
#   scripts/push-image.sh <git sha>-m<model version>
#
# Creates the repository when missing (immutable tags, scan on push), and skips the push when the tag is
# already there: an immutable tag cannot be pushed twice, and a re-run of the same commit and model is a no-op.
# Environment: AWS_REGION, ECR_REPOSITORY (required); IMAGE_NAME (default ytsentiment); PYTHON.
set -euo pipefail

die() {
  echo "push-image: $*" >&2
  exit 2
}
[[ $# -eq 1 && -n $1 ]] || die "usage: $0 <git sha>-m<model version>"
tag=$1
python=${PYTHON:-.venv/bin/python}
image_name=${IMAGE_NAME:-ytsentiment}
[[ -n ${AWS_REGION:-} && -n ${ECR_REPOSITORY:-} ]] || die "AWS_REGION and ECR_REPOSITORY must be set"

deploy() { "$python" -m ytsentiment.deploy "$@"; }
repo_uri=$(deploy ensure-repo)
exists=$(deploy image-exists --image-tag "$tag")
if [[ $exists == true ]]; then
  echo "$repo_uri:$tag is already in ECR: nothing to push"
  exit 0
fi

registry=${repo_uri%%/*}
aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS --password-stdin "$registry"
docker tag "$image_name:$tag" "$repo_uri:$tag"
docker push "$repo_uri:$tag"
echo "pushed $repo_uri:$tag"
