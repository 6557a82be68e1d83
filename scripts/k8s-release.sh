#!/usr/bin/env bash
# Write a release overlay: deploy/k8s/overlays/production with the release's images (make k8s-release).
#   scripts/k8s-release.sh DIR IMAGE MONITOR_IMAGE
# IMAGE and MONITOR_IMAGE are <registry>/<repository>:<tag> or <registry>/<repository>@sha256:<digest>; a reference
# without a tag or digest, or tagged latest, is refused. DIR (git-ignored by default) gets one kustomization.yaml, so
# the registry host and account id stay out of git. Apply with kubectl apply -k DIR (docs/kubernetes.md).
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
  echo "k8s-release: $*" >&2
  exit 2
}
[[ $# -eq 3 && -n $1 ]] || die "usage: $0 DIR IMAGE MONITOR_IMAGE"
dir=$1

# "name: X" plus "newName: ..." and "newTag: ..." or "digest: ..." lines of a kustomize images: entry.
entry() {
  local logical=$1 ref=$2 name pin
  [[ -n $ref ]] || die "no image given for $logical"
  [[ $ref =~ ^[a-z0-9][a-z0-9._:/-]*[a-z0-9]((:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|(@sha256:[0-9a-f]{64}))$ ]] ||
    die "$logical: '$ref' is not <registry>/<repository>:<tag> or @sha256:<digest>"
  if [[ $ref == *@* ]]; then
    name=${ref%@*}
    pin="    digest: ${ref#*@}"
  else
    name=${ref%:*}
    [[ ${ref##*:} != latest ]] || die "$logical: the tag latest names no release; use the immutable tag"
    pin="    newTag: \"${ref##*:}\""
  fi
  printf '  - name: %s\n    newName: %s\n%s\n' "$logical" "$name" "$pin"
}

api=$(entry ytsentiment "$2")
monitor=$(entry ytsentiment-monitor "$3")
mkdir -p "$dir"
production=$(realpath --relative-to="$dir" deploy/k8s/overlays/production)
cat >"$dir/kustomization.yaml" <<YAML
# Written by scripts/k8s-release.sh (make k8s-release): not committed.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $production
images:
$api
$monitor
YAML
echo "wrote $dir/kustomization.yaml"
