#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# ApplicationStop: stop the running container gracefully. `docker stop` sends SIGTERM, gunicorn lets its
# workers finish in-flight requests, and only after the grace period does docker send SIGKILL. CodeDeploy has
# already taken the instance out of the load balancer (BlockTraffic) by the time this runs.
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if ! command -v docker >/dev/null 2>&1; then
  log "docker is not installed yet: nothing to stop"
  exit 0
fi
if container_exists; then
  log "stopping $CONTAINER_NAME (grace ${STOP_GRACE_SECONDS}s)"
  docker stop --time "$STOP_GRACE_SECONDS" "$CONTAINER_NAME" >/dev/null
  docker rm "$CONTAINER_NAME" >/dev/null
  log "stopped and removed $CONTAINER_NAME"
else
  log "no container named $CONTAINER_NAME: nothing to stop"
fi
