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
  # DATABASE_URL (prediction log, feedback) holds a password: the launch template names an SSM SecureString
  # parameter instead, read here at each start and handed to the container in a root-only env file.
  db_parameter=""
  while IFS='=' read -r key value; do
    [[ $key == DATABASE_URL_PARAMETER ]] && db_parameter="$value"
  done <"$APP_ENV_FILE"
  if [[ -n $db_parameter ]]; then
    log "reading DATABASE_URL from SSM parameter $db_parameter"
    db_url="$(aws ssm get-parameter --region "$AWS_REGION" --name "$db_parameter" --with-decryption \
      --query Parameter.Value --output text)" || die "cannot read SSM parameter $db_parameter"
    [[ -n $db_url ]] || die "SSM parameter $db_parameter is empty"
    (umask 077 && printf 'DATABASE_URL=%s\n' "$db_url" >"$SECRET_ENV_FILE")
    run_args+=(--env-file "$SECRET_ENV_FILE")
  fi
fi
log "starting $CONTAINER_NAME from $IMAGE_URI"
docker "${run_args[@]}" "$IMAGE_URI" >/dev/null
# Old images are pulled again on rollback, so only dangling layers are worth keeping out of the disk.
docker image prune --force >/dev/null || log "image prune failed (ignored: disk housekeeping only)"
