#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# BeforeInstall: make sure docker (running), the AWS CLI and curl exist. The launch template installs them at
# boot; this keeps a hand-replaced or older instance deployable too.
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install_packages() {
  if command -v dnf >/dev/null 2>&1; then
    dnf install -y "$@"
  elif command -v yum >/dev/null 2>&1; then
    yum install -y "$@"
  elif command -v apt-get >/dev/null 2>&1; then
    apt-get update -y && DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
  else
    die "no dnf, yum or apt-get to install: $*"
  fi
}

if ! command -v docker >/dev/null 2>&1; then
  log "installing docker"
  if command -v apt-get >/dev/null 2>&1; then install_packages docker.io; else install_packages docker; fi
fi
if ! command -v aws >/dev/null 2>&1; then
  log "installing the AWS CLI"
  install_packages awscli
fi
command -v curl >/dev/null 2>&1 || install_packages curl

if command -v systemctl >/dev/null 2>&1; then
  systemctl enable --now docker
fi
docker info >/dev/null 2>&1 || die "the docker daemon is not running"
log "docker $(docker version --format '{{.Server.Version}}'), $(aws --version 2>&1)"
