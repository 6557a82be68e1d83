#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# ApplicationStart: log in to ECR and start exactly the image named in this revision's deploy.env.
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
load_release

registry="${IMAGE_URI%%/*}"
log "logging in to $registry"
aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS --password-stdin "$registry"
log "pulling $IMAGE_URI"
docker pull "$IMAGE_URI"

# A container left by a deployment whose ApplicationStop did not run would hold the name (and the port).
if container_exists; then
  log "removing leftover container $CONTAINER_NAME"
  docker rm --force "$CONTAINER_NAME" >/dev/null
fi

run_args=(
  run --detach --name "$CONTAINER_NAME" --restart unless-stopped
  --publish "${HOST_PORT}:${CONTAINER_PORT}"
  --env "PORT=${CONTAINER_PORT}"
  --log-opt max-size=20m --log-opt max-file=5
)
if [[ -f $APP_ENV_FILE ]]; then
  run_args+=(--env-file "$APP_ENV_FILE")
fi
log "starting $CONTAINER_NAME from $IMAGE_URI"
docker "${run_args[@]}" "$IMAGE_URI" >/dev/null
# Old images are pulled again on rollback, so only dangling layers are worth keeping out of the disk.
docker image prune --force >/dev/null || log "image prune failed (ignored: disk housekeeping only)"
