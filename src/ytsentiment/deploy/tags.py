"""The immutable image tag ``<git sha>-m<model version>``: what the image holds, never ``:latest``."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ytsentiment.deploy import DeployError
from ytsentiment.tracking import git_head

_SHA = re.compile(r"[0-9a-f]{7,40}")
_TAG = re.compile(r"(?P<sha>[0-9a-f]{7,40})-m(?P<version>[0-9]+)")


def image_tag(git_sha: str, model_version: str | int) -> str:
    """The immutable tag of an image: the full git sha of the code plus the registry version of the model."""
    sha = str(git_sha).strip().lower()
    version = str(model_version).strip()
    if not _SHA.fullmatch(sha):
        raise DeployError(f"git sha {git_sha!r} is not 7-40 hex digits")
    if not version.isdigit():
        raise DeployError(f"model version {model_version!r} is not a registry version number")
    return validate_image_tag(f"{sha}-m{int(version)}")


def validate_image_tag(tag: str) -> str:
    """Return ``tag`` when it has the immutable form ``<git sha>-m<model version>``; raise otherwise."""
    if tag is None or not str(tag).strip():
        raise DeployError("an image tag is required: <git sha>-m<model version> (see `ytsentiment deploy tag`)")
    tag = str(tag).strip()
    if tag == "latest":
        raise DeployError("refusing to deploy ':latest': tags must be immutable, <git sha>-m<model version>")
    if not _TAG.fullmatch(tag):
        raise DeployError(f"image tag {tag!r} is not of the form <git sha>-m<model version>, e.g. 3f9c2e1-m4")
    return tag


def read_model_version(model_info: Path) -> str:
    """The registry version recorded by ``ytsentiment export`` in ``model/model_info.json``."""
    try:
        info = json.loads(Path(model_info).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeployError(f"{model_info} not found: run `make export` first") from None
    except json.JSONDecodeError as exc:
        raise DeployError(f"{model_info} is not valid JSON: {exc}") from None
    version = info.get("version") if isinstance(info, dict) else None
    if version is None or not str(version).strip().isdigit():
        raise DeployError(f"{model_info} has no numeric 'version' (got {version!r})")
    return str(version).strip()


def current_git_sha(cwd: Path | None = None) -> str:
    """``GITHUB_SHA`` in Actions, else ``git rev-parse HEAD`` of the checkout in ``cwd`` (default: here)."""
    sha = os.environ.get("GITHUB_SHA", "").strip() or git_head(cwd)
    if not sha:
        raise DeployError("cannot read the git sha (not a git checkout, or git is missing): pass --git-sha")
    return sha
