"""The CodeDeploy revision: appspec.yml, the hooks under scripts/codedeploy/ and ``deploy.env``, zipped and in S3.

``deploy.env`` names the exact image the hooks run (validated, so the hooks can ``source`` it safely). The zip is
deterministic: the same inputs give the same bytes (and the same S3 ETag).
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

import yaml

from ytsentiment.deploy import DeployError
from ytsentiment.deploy.tags import validate_image_tag

REPO_ROOT = Path(__file__).resolve().parents[3]
HOOKS_DIR = "scripts/codedeploy"
ENV_FILE = "deploy.env"

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
# <account>.dkr.ecr.<region>.amazonaws.com/<name> (any registry host in tests); the tag is checked apart.
_REPOSITORY_URI = re.compile(r"[a-z0-9.\-]+(:[0-9]+)?/[a-z0-9]+([._/\-][a-z0-9]+)*")
# Fixed timestamp so the same inputs give the same bundle bytes (and the same S3 ETag).
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def hook_locations(appspec_text: str) -> list[str]:
    """Every script an appspec's hooks run, in order of appearance."""
    spec = yaml.safe_load(appspec_text)
    if not isinstance(spec, dict) or not isinstance(spec.get("hooks"), dict):
        raise DeployError("appspec.yml has no 'hooks' mapping")
    locations = []
    for event, entries in spec["hooks"].items():
        for entry in entries or []:
            if not isinstance(entry, dict) or not entry.get("location"):
                raise DeployError(f"appspec.yml hook {event} has an entry without 'location'")
            locations.append(str(entry["location"]))
    return locations


def deploy_env(image_uri: str, region: str) -> str:
    """The ``deploy.env`` the hooks source: the exact image to run and where its registry is."""
    repository, sep, tag = image_uri.rpartition(":")
    if not sep or not _REPOSITORY_URI.fullmatch(repository):
        raise DeployError(f"image URI {image_uri!r} is not <registry>/<repository>:<tag>")
    validate_image_tag(tag)
    if not _REGION.fullmatch(region or ""):
        raise DeployError(f"AWS region {region!r} is not a region name such as eu-west-1")
    # Values are validated above, so quoting cannot be escaped; the hooks `source` this file.
    return f"IMAGE_URI='{image_uri}'\nAWS_REGION='{region}'\n"


def build_bundle(image_uri: str, region: str, source_root: Path = REPO_ROOT) -> bytes:
    """Zip appspec.yml, the hooks and ``deploy.env`` into a CodeDeploy revision (deterministic bytes)."""
    source_root = Path(source_root)
    appspec = source_root / "appspec.yml"
    if not appspec.is_file():
        raise DeployError(f"{appspec} not found")
    hooks = sorted(p for p in (source_root / HOOKS_DIR).rglob("*") if p.is_file() and p.suffix == ".sh")
    members = {"appspec.yml": appspec.read_bytes()}
    members.update({p.relative_to(source_root).as_posix(): p.read_bytes() for p in hooks})
    missing = [loc for loc in hook_locations(members["appspec.yml"].decode()) if loc not in members]
    if missing:
        raise DeployError(f"appspec.yml names hooks that are not under {HOOKS_DIR}/: {', '.join(missing)}")
    members[ENV_FILE] = deploy_env(image_uri, region).encode()

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            # The agent runs hooks directly, so scripts keep their execute bit inside the zip.
            mode = 0o755 if name.endswith(".sh") else 0o644
            info.external_attr = (0o100000 | mode) << 16
            bundle.writestr(info, members[name])
    return buffer.getvalue()


def upload_bundle(s3: Any, bucket: str, key: str, data: bytes) -> dict[str, Any]:
    """Put the bundle in S3 and return the CodeDeploy ``revision`` that points at exactly this object."""
    put = s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/zip")
    location = {"bucket": bucket, "key": key, "bundleType": "zip", "eTag": put["ETag"].strip('"')}
    if put.get("VersionId"):
        location["version"] = put["VersionId"]
    return {"revisionType": "S3", "s3Location": location}
