#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# ValidateService: poll readiness until the model is loaded, then check that the container serves the model
# version named in the image tag. Exiting non-zero fails this instance's deployment, and CodeDeploy (automatic
# rollback on failure) puts the previous revision back.
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
load_release

show_logs() { docker logs --tail 100 "$CONTAINER_NAME" >&2 || true; }

deadline=$((SECONDS + VALIDATE_TIMEOUT))
until curl --silent --fail --max-time 5 "$BASE_URL/ready" >/dev/null; do
  running="$(docker inspect --format '{{.State.Running}}' "$CONTAINER_NAME" 2>/dev/null || echo missing)"
  if [[ $running != "true" ]]; then
    show_logs
    die "container $CONTAINER_NAME is not running ($running)"
  fi
  if ((SECONDS >= deadline)); then
    show_logs
    die "$BASE_URL/ready did not answer 200 within ${VALIDATE_TIMEOUT}s"
  fi
  sleep "$VALIDATE_INTERVAL"
done

image="$(docker inspect --format '{{.Config.Image}}' "$CONTAINER_NAME")"
[[ $image == "$IMAGE_URI" ]] || die "container runs $image, this revision deploys $IMAGE_URI"
model="$(curl --silent --fail --max-time 5 "$BASE_URL/model")" || die "$BASE_URL/model failed"
if ! grep -Eq "\"version\"[[:space:]]*:[[:space:]]*\"?${MODEL_VERSION}\"?[[:space:]]*[,}]" <<<"$model"; then
  die "served model is not version $MODEL_VERSION: $model"
fi
log "ready: $IMAGE_URI serves model version $MODEL_VERSION"
