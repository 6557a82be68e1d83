#!/usr/bin/env bash
# Push or pull DVC data and stage outputs with the S3 remote named by the environment, so no bucket name is
# committed: the remote lives in .dvc/config.local (git-ignored by DVC) and is rewritten on every call.
#
#   DVC_REMOTE_URL=s3://<bucket>/<prefix> scripts/dvc-s3.sh pull|push [dvc options...]
#
# Credentials and region come from the usual AWS variables (OIDC in the CD workflow). AWS_ENDPOINT_URL, when
# set, is written as the remote's endpointurl: tests point it at moto on loopback, production leaves it unset.
# DVC picks the dvc executable (default: .venv/bin/dvc when present, else dvc on PATH). Pull tolerates outputs
# the remote does not have yet (first run); `dvc repro` rebuilds those.
set -euo pipefail

usage() {
  echo "usage: DVC_REMOTE_URL=s3://<bucket>/<prefix> $0 pull|push [dvc options...]" >&2
  exit 2
}
[[ $# -ge 1 ]] || usage
command=$1
shift
[[ $command == pull || $command == push ]] || usage
[[ ${DVC_REMOTE_URL:-} =~ ^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$ ]] ||
  { echo "DVC_REMOTE_URL must be s3://<bucket>/<prefix>, got '${DVC_REMOTE_URL:-}'" >&2; exit 2; }

if [[ -n ${DVC:-} ]]; then
  dvc=$DVC
elif [[ -x .venv/bin/dvc ]]; then
  dvc=.venv/bin/dvc
else
  dvc=dvc
fi

"$dvc" remote add --local --force --default s3 "$DVC_REMOTE_URL"
if [[ -n ${AWS_ENDPOINT_URL:-} ]]; then
  "$dvc" remote modify --local s3 endpointurl "$AWS_ENDPOINT_URL"
fi

case $command in
  pull) "$dvc" pull --allow-missing "$@" ;;
  push) "$dvc" push "$@" ;;
esac
