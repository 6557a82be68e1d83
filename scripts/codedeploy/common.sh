# shellcheck shell=bash
# Sourced by every CodeDeploy hook: settings (each overridable from the environment) and small helpers.
# The hooks run from the revision CodeDeploy unpacked, so deploy.env sits two levels above this folder.
set -euo pipefail

HOOKS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REVISION_DIR="${REVISION_DIR:-$(cd "$HOOKS_DIR/../.." && pwd)}"
CONTAINER_NAME="${CONTAINER_NAME:-ytsentiment}"
HOST_PORT="${HOST_PORT:-80}"             # the ALB target group's port
CONTAINER_PORT="${CONTAINER_PORT:-5000}" # PORT inside the image
APP_ENV_FILE="${APP_ENV_FILE:-/etc/ytsentiment/app.env}" # app settings (CORS_ORIGINS, ...) from the launch template
SECRET_ENV_FILE="${SECRET_ENV_FILE:-/etc/ytsentiment/secret.env}" # DATABASE_URL from SSM, root-only (mode 600)
STOP_GRACE_SECONDS="${STOP_GRACE_SECONDS:-30}"
VALIDATE_TIMEOUT="${VALIDATE_TIMEOUT:-180}" # below the ValidateService hook timeout in appspec.yml
VALIDATE_INTERVAL="${VALIDATE_INTERVAL:-5}"
BASE_URL="${BASE_URL:-http://127.0.0.1:${HOST_PORT}}"

log() { printf '%s [%s] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${LIFECYCLE_EVENT:-hook}" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

# Read the exact image this revision deploys; refuse anything but an immutable <git sha>-m<version> tag.
load_release() {
  local env_file="$REVISION_DIR/deploy.env"
  [[ -f $env_file ]] || die "no deploy.env in $REVISION_DIR: build bundles with 'ytsentiment deploy'"
  # shellcheck source=/dev/null
  source "$env_file"
  [[ -n ${IMAGE_URI:-} && -n ${AWS_REGION:-} ]] || die "deploy.env must set IMAGE_URI and AWS_REGION"
  IMAGE_TAG="${IMAGE_URI##*:}"
  [[ $IMAGE_TAG =~ ^[0-9a-f]{7,40}-m([0-9]+)$ ]] || die "refusing image tag '$IMAGE_TAG': not <git sha>-m<model version>"
  MODEL_VERSION="${BASH_REMATCH[1]}"
  export IMAGE_URI AWS_REGION IMAGE_TAG MODEL_VERSION
}

container_exists() { docker container inspect "$CONTAINER_NAME" >/dev/null 2>&1; }
