#!/bin/sh
# The serving install recipe, shared by the Dockerfile and tests/delivery/test_image.py so that the test proves
# the very steps the image runs (no Docker engine is needed for that).
#
#   build-serve-env.sh deps    VENV REQUIREMENTS  create VENV, install the pinned serving requirements, pip check
#   build-serve-env.sh package VENV SOURCE_DIR    install ytsentiment (with its API) from SOURCE_DIR (dependencies
#                                                 come only from REQUIREMENTS), then import what gunicorn loads
#
# PYTHON picks the interpreter for a new venv (default python3); pip's cache follows PIP_NO_CACHE_DIR.
set -eu

usage() {
  echo "usage: $0 deps VENV REQUIREMENTS | package VENV SOURCE_DIR" >&2
  exit 2
}
[ "$#" -eq 3 ] || usage
step=$1
venv=$2
source_path=$3
pip_install() { "$venv/bin/python" -m pip install --disable-pip-version-check --no-input "$@"; }

case "$step" in
  deps)
    [ -f "$source_path" ] || { echo "no requirements file at $source_path" >&2; exit 2; }
    "${PYTHON:-python3}" -m venv "$venv"
    pip_install --requirement "$source_path"
    # Every requirement of every pinned package is installed, at a compatible version.
    "$venv/bin/python" -m pip check
    ;;
  package)
    [ -f "$source_path/pyproject.toml" ] || { echo "no pyproject.toml in $source_path" >&2; exit 2; }
    [ -x "$venv/bin/python" ] || { echo "no venv at $venv: run the deps step first" >&2; exit 2; }
    # --no-deps: the serving requirements above are the whole dependency set; training-only extras stay out.
    pip_install --no-deps "$source_path"
    "$venv/bin/python" -c "import ytsentiment.api, ytsentiment.model; ytsentiment.api.create_app"
    ;;
  *) usage ;;
esac
