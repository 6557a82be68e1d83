"""Ship a serving image to the EC2 fleet through ECR and CodeDeploy.

Called as ``ytsentiment deploy <command>`` by ``make push-image`` / ``make deploy`` and the CD workflow:

``tag``           print the immutable image tag ``<git sha>-m<model version>`` of the exported model
``ensure-repo``   create the ECR repository when missing (immutable tags, scan on push); print its URI
``image-exists``  print true/false: is the tag already in ECR (an immutable tag cannot be pushed twice)
``bundle``        write the CodeDeploy revision (appspec.yml + scripts/codedeploy/ + deploy.env) to a file
``release``       bundle -> S3 -> CodeDeploy deployment -> bounded wait -> report; exit 0 only on success

AWS names come from flags or environment variables: ``AWS_REGION``, ``ECR_REPOSITORY``, ``DEPLOY_BUCKET``,
``CODEDEPLOY_APP``, ``CODEDEPLOY_GROUP`` (optional: ``DEPLOY_BUNDLE_PREFIX``, ``DEPLOY_TIMEOUT``). boto3
honours ``AWS_ENDPOINT_URL`` natively, which is how the tests point every client at moto: there is no
test-only code path.

The waiting logic, :func:`wait_for_deployment`, is a pure function over an injected status source and clock,
so success, failure, rollback and timeout are each testable although moto never finishes a deployment.

Exit codes: 0 success, 1 deployment failed or an AWS call failed, 2 bad input, 3 timed out waiting.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.exceptions import BotoCoreError, ClientError

from ytsentiment import YtSentimentError
from ytsentiment.logs import configure_logging

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
HOOKS_DIR = "scripts/codedeploy"
ENV_FILE = "deploy.env"

SUCCEEDED = "Succeeded"
TERMINAL_STATUSES = frozenset({SUCCEEDED, "Failed", "Stopped"})

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 3

_SHA = re.compile(r"[0-9a-f]{7,40}")
_TAG = re.compile(r"(?P<sha>[0-9a-f]{7,40})-m(?P<version>[0-9]+)")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
# <account>.dkr.ecr.<region>.amazonaws.com/<name> (any registry host in tests); the tag is checked apart.
_REPOSITORY_URI = re.compile(r"[a-z0-9.\-]+(:[0-9]+)?/[a-z0-9]+([._/\-][a-z0-9]+)*")
# Fixed timestamp so the same inputs give the same bundle bytes (and the same S3 ETag).
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class DeployError(YtSentimentError):
    """A bad input or a precondition that does not hold; the message says what to fix."""


# ----------------------------------------------------------------------------------------------------
# Image tags


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
        raise DeployError(
            "an image tag is required: <git sha>-m<model version> (see `ytsentiment deploy tag`)"
        )
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
    sha = os.environ.get("GITHUB_SHA", "").strip()
    if sha:
        return sha
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise DeployError(f"cannot read the git sha (pass --git-sha): {exc}") from None
    return done.stdout.strip()


# ----------------------------------------------------------------------------------------------------
# ECR


def ensure_repository(ecr: Any, name: str) -> str:
    """Create the ECR repository ``name`` when missing (immutable tags, scan on push); return its URI."""
    try:
        repository = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    except ecr.exceptions.RepositoryNotFoundException:
        logger.info("creating ECR repository %s", name)
        repository = ecr.create_repository(
            repositoryName=name,
            imageTagMutability="IMMUTABLE",
            imageScanningConfiguration={"scanOnPush": True},
            encryptionConfiguration={"encryptionType": "AES256"},
        )["repository"]
    if repository.get("imageTagMutability") != "IMMUTABLE":
        logger.warning("ECR repository %s allows tags to be overwritten; infra/ creates it IMMUTABLE", name)
    return repository["repositoryUri"]


def image_exists(ecr: Any, repository: str, tag: str) -> bool:
    """Whether ``repository:tag`` is already in ECR."""
    try:
        found = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ecr.exceptions.ImageNotFoundException:
        return False
    return bool(found.get("imageDetails"))


# ----------------------------------------------------------------------------------------------------
# Revision bundle


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


def create_deployment(codedeploy: Any, application: str, group: str, revision: dict, description: str) -> str:
    """Start a deployment of ``revision``; automatic rollback on failure is requested explicitly."""
    response = codedeploy.create_deployment(
        applicationName=application,
        deploymentGroupName=group,
        revision=revision,
        description=description[:100],
        fileExistsBehavior="OVERWRITE",
        autoRollbackConfiguration={
            "enabled": True,
            "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"],
        },
    )
    return response["deploymentId"]


# ----------------------------------------------------------------------------------------------------
# Waiting (pure: status source, clock and sleep are injected)


@dataclass(frozen=True)
class DeploymentOutcome:
    """How a deployment ended, as far as the bounded wait could see."""

    deployment_id: str
    status: str  # last CodeDeploy status seen
    timed_out: bool
    elapsed_seconds: float
    error_code: str = ""
    error_message: str = ""
    rollback_deployment_id: str = ""
    rollback_status: str = ""  # status of the automatic rollback deployment, when there is one
    overview: Mapping[str, int] | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED and not self.timed_out

    @property
    def rolled_back(self) -> bool:
        return bool(self.rollback_deployment_id)

    @property
    def exit_code(self) -> int:
        if self.succeeded:
            return EXIT_OK
        return EXIT_TIMEOUT if self.timed_out else EXIT_FAILED

    def to_markdown(self) -> str:
        lines = ["### CodeDeploy", "", "| field | value |", "| --- | --- |"]
        row = {"deployment": self.deployment_id, "status": "TimedOut" if self.timed_out else self.status}
        row.update({"last status seen": self.status} if self.timed_out else {})
        row["elapsed (s)"] = f"{self.elapsed_seconds:.0f}"
        if self.error_code or self.error_message:
            row["error"] = f"{self.error_code}: {self.error_message}".strip(": ")
        if self.rolled_back:
            row["rollback deployment"] = self.rollback_deployment_id
            row["rollback status"] = self.rollback_status or "unknown"
        if self.overview:
            row["instances"] = ", ".join(f"{k} {v}" for k, v in self.overview.items() if v)
        lines += [f"| {k} | {str(v).replace('|', '/')} |" for k, v in row.items()]
        return "\n".join(lines) + "\n"


StatusSource = Callable[[str], Mapping[str, Any]]


def wait_for_deployment(
    fetch: StatusSource,
    deployment_id: str,
    *,
    timeout: float,
    poll_interval: float = 15.0,
    follow_rollback: bool = True,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> DeploymentOutcome:
    """Poll ``fetch(deployment_id)`` (a ``deploymentInfo`` mapping) until a terminal status or ``timeout``.

    When the deployment failed and CodeDeploy started an automatic rollback, the rollback deployment is
    followed within the same time budget, so the report says whether the fleet is back on the old revision.
    """
    if timeout <= 0 or poll_interval <= 0:
        raise DeployError("timeout and poll interval must be positive")
    start = clock()

    def poll(target: str) -> tuple[Mapping[str, Any], bool]:
        last = None
        while True:
            info = fetch(target)
            status = info.get("status", "Unknown")
            if status != last:
                logger.info("deployment %s: %s", target, status)
                last = status
            if status in TERMINAL_STATUSES:
                return info, False
            remaining = timeout - (clock() - start)
            if remaining <= 0:
                return info, True
            sleep(min(poll_interval, remaining))

    info, timed_out = poll(deployment_id)
    error = info.get("errorInformation") or {}
    rollback_id = (info.get("rollbackInfo") or {}).get("rollbackDeploymentId", "")
    rollback_status = ""
    if rollback_id and follow_rollback and not timed_out:
        rollback_info, rollback_timed_out = poll(rollback_id)
        rollback_status = rollback_info.get("status", "Unknown") + (
            " (still running)" if rollback_timed_out else ""
        )
    return DeploymentOutcome(
        deployment_id=deployment_id,
        status=info.get("status", "Unknown"),
        timed_out=timed_out,
        elapsed_seconds=clock() - start,
        error_code=str(error.get("code", "")),
        error_message=str(error.get("message", "")),
        rollback_deployment_id=rollback_id,
        rollback_status=rollback_status,
        overview=info.get("deploymentOverview") or None,
    )


def codedeploy_status_source(codedeploy: Any) -> StatusSource:
    """The production status source: ``get_deployment`` on the real (or moto) CodeDeploy API."""
    return lambda deployment_id: codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]


# ----------------------------------------------------------------------------------------------------
# Release


def release(
    *,
    session: Any,
    tag: str,
    region: str,
    repository: str,
    bucket: str,
    application: str,
    group: str,
    bundle_prefix: str = "codedeploy",
    timeout: float = 1800,
    poll_interval: float = 15,
    source_root: Path = REPO_ROOT,
    wait: bool = True,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> DeploymentOutcome:
    """Deploy ``repository:tag`` (which must already be in ECR) and wait for the outcome."""
    tag = validate_image_tag(tag)
    ecr = session.client("ecr", region_name=region)
    try:
        repository_uri = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0][
            "repositoryUri"
        ]
    except ecr.exceptions.RepositoryNotFoundException:
        raise DeployError(
            f"ECR repository {repository!r} does not exist: run `make push-image` first"
        ) from None
    if not image_exists(ecr, repository, tag):
        raise DeployError(f"{repository}:{tag} is not in ECR: run `make push-image IMAGE_TAG={tag}` first")

    image_uri = f"{repository_uri}:{tag}"
    bundle = build_bundle(image_uri, region, source_root)
    key = f"{bundle_prefix.strip('/')}/{application}/{tag}.zip"
    revision = upload_bundle(session.client("s3", region_name=region), bucket, key, bundle)
    logger.info("uploaded revision s3://%s/%s (%d bytes)", bucket, key, len(bundle))

    codedeploy = session.client("codedeploy", region_name=region)
    deployment_id = create_deployment(codedeploy, application, group, revision, f"ytsentiment {tag}")
    logger.info("created deployment %s of %s to %s/%s", deployment_id, image_uri, application, group)
    if not wait:
        return DeploymentOutcome(deployment_id, "Created", timed_out=False, elapsed_seconds=0.0)
    return wait_for_deployment(
        codedeploy_status_source(codedeploy),
        deployment_id,
        timeout=timeout,
        poll_interval=poll_interval,
        clock=clock,
        sleep=sleep,
    )


# ----------------------------------------------------------------------------------------------------
# CLI


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name) or default


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ytsentiment deploy", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def aws(p: argparse.ArgumentParser, *names: str) -> None:
        p.add_argument(
            "--region", default=_env("AWS_REGION", _env("AWS_DEFAULT_REGION")), help="env AWS_REGION"
        )
        if "repository" in names:
            p.add_argument(
                "--repository", default=_env("ECR_REPOSITORY"), help="ECR repository, env ECR_REPOSITORY"
            )

    tag = commands.add_parser("tag", help="print the immutable image tag <git sha>-m<model version>")
    tag.add_argument("--model-info", type=Path, default=Path("model/model_info.json"))
    tag.add_argument("--git-sha", default=None, help="default: env GITHUB_SHA, else git rev-parse HEAD")

    ensure = commands.add_parser("ensure-repo", help="create the ECR repository if missing; print its URI")
    aws(ensure, "repository")

    exists = commands.add_parser("image-exists", help="print true or false: is the tag already in ECR")
    aws(exists, "repository")
    exists.add_argument("--image-tag", default=_env("IMAGE_TAG"), help="env IMAGE_TAG")

    bundle = commands.add_parser(
        "bundle", help="write the CodeDeploy revision bundle to a file (no AWS calls)"
    )
    bundle.add_argument(
        "--image-uri", required=True, help="<registry>/<repository>:<git sha>-m<model version>"
    )
    bundle.add_argument("--region", default=_env("AWS_REGION", _env("AWS_DEFAULT_REGION")))
    bundle.add_argument("--out", type=Path, required=True)

    rel = commands.add_parser("release", help="bundle, upload to S3, deploy with CodeDeploy, wait, report")
    aws(rel, "repository")
    rel.add_argument("--image-tag", default=_env("IMAGE_TAG"), help="env IMAGE_TAG")
    rel.add_argument(
        "--bucket", default=_env("DEPLOY_BUCKET"), help="S3 bucket for bundles, env DEPLOY_BUCKET"
    )
    rel.add_argument("--application", default=_env("CODEDEPLOY_APP"), help="env CODEDEPLOY_APP")
    rel.add_argument(
        "--group", default=_env("CODEDEPLOY_GROUP"), help="deployment group, env CODEDEPLOY_GROUP"
    )
    rel.add_argument("--bundle-prefix", default=_env("DEPLOY_BUNDLE_PREFIX", "codedeploy"))
    rel.add_argument("--timeout", type=float, default=_env("DEPLOY_TIMEOUT", "1800"), help="seconds")
    rel.add_argument("--poll-interval", type=float, default=15.0, help="seconds")
    rel.add_argument("--no-wait", action="store_true", help="return after creating the deployment")
    return parser


def _require(parser: argparse.ArgumentParser, args: argparse.Namespace, **flags: str) -> None:
    missing = [
        f"--{flag.replace('_', '-')} (env {env})" for flag, env in flags.items() if not getattr(args, flag)
    ]
    if missing:
        parser.error("missing " + ", ".join(missing))


def _write_step_summary(markdown: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(markdown)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``ytsentiment deploy``; see the module docstring for the commands and exit codes."""
    configure_logging()  # a no-op when the `ytsentiment` CLI has configured it already
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "tag":
            print(image_tag(args.git_sha or current_git_sha(), read_model_version(args.model_info)))
            return EXIT_OK
        if args.command == "bundle":
            _require(parser, args, region="AWS_REGION")
            args.out.write_bytes(build_bundle(args.image_uri, args.region))
            logger.info("wrote %s", args.out)
            return EXIT_OK

        session = boto3.session.Session(region_name=args.region)
        if args.command == "ensure-repo":
            _require(parser, args, region="AWS_REGION", repository="ECR_REPOSITORY")
            print(ensure_repository(session.client("ecr"), args.repository))
            return EXIT_OK
        if args.command == "image-exists":
            _require(parser, args, region="AWS_REGION", repository="ECR_REPOSITORY", image_tag="IMAGE_TAG")
            found = image_exists(session.client("ecr"), args.repository, validate_image_tag(args.image_tag))
            print("true" if found else "false")
            return EXIT_OK

        _require(
            parser,
            args,
            region="AWS_REGION",
            repository="ECR_REPOSITORY",
            image_tag="IMAGE_TAG",
            bucket="DEPLOY_BUCKET",
            application="CODEDEPLOY_APP",
            group="CODEDEPLOY_GROUP",
        )
        outcome = release(
            session=session,
            tag=args.image_tag,
            region=args.region,
            repository=args.repository,
            bucket=args.bucket,
            application=args.application,
            group=args.group,
            bundle_prefix=args.bundle_prefix,
            timeout=args.timeout,
            poll_interval=args.poll_interval,
            wait=not args.no_wait,
        )
    except DeployError as exc:
        logger.error("%s", exc)
        return EXIT_USAGE
    except (ClientError, BotoCoreError) as exc:
        logger.error("AWS call failed: %s", exc)
        return EXIT_FAILED

    print(json.dumps({**asdict(outcome), "succeeded": outcome.succeeded, "rolled_back": outcome.rolled_back}))
    _write_step_summary(outcome.to_markdown())
    if not outcome.succeeded:
        reason = "timed out waiting for" if outcome.timed_out else "failed:"
        logger.error(
            "deployment %s %s %s", reason, outcome.deployment_id, outcome.error_message or outcome.status
        )
    return outcome.exit_code if not args.no_wait else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
