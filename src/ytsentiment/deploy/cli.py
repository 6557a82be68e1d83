"""``ytsentiment deploy <command>`` (also ``python -m ytsentiment.deploy <command>``): ECR and CodeDeploy.

``tag``           print the immutable image tag ``<git sha>-m<model version>`` of the exported model
``ensure-repo``   create the ECR repository when missing (immutable tags, scan on push); print its URI
``image-exists``  print true/false: is the tag already in ECR (an immutable tag cannot be pushed twice)
``bundle``        write the CodeDeploy revision (appspec.yml + scripts/codedeploy/ + deploy.env) to a file
``release``       bundle -> S3 -> CodeDeploy deployment -> bounded wait -> report; exit 0 only on success

AWS names come from flags or environment variables: ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``),
``ECR_REPOSITORY``, ``IMAGE_TAG``, ``DEPLOY_BUCKET``, ``CODEDEPLOY_APP``, ``CODEDEPLOY_GROUP`` (optional:
``DEPLOY_BUNDLE_PREFIX``, ``DEPLOY_TIMEOUT``). ``release`` appends its report to ``$GITHUB_STEP_SUMMARY`` when set.

Exit codes: 0 success, 1 deployment failed or an AWS call failed, 2 bad input, 3 timed out waiting.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import Field

from ytsentiment.deploy.bundle import build_bundle
from ytsentiment.deploy.codedeploy import EXIT_FAILED, EXIT_OK
from ytsentiment.deploy.ecr import ensure_repository, image_exists
from ytsentiment.deploy.release import release
from ytsentiment.deploy.tags import current_git_sha, image_tag, read_model_version, validate_image_tag
from ytsentiment.environ import EnvSettings
from ytsentiment.logs import run_main

log = logging.getLogger(__name__)


class DeploySettings(EnvSettings):
    """The defaults of the deploy flags, read by ``run`` (so a bad value fails the deploy command only)."""

    aws_region: str | None = None  # AWS's own variables, also read by boto3
    aws_default_region: str | None = None
    ecr_repository: str | None = None
    image_tag: str | None = None
    deploy_bucket: str | None = None
    codedeploy_app: str | None = None
    codedeploy_group: str | None = None
    deploy_bundle_prefix: str = "codedeploy"
    deploy_timeout: float = Field(1800.0, gt=0)

    def defaults(self) -> dict[str, Any]:
        """Flag name -> value for the flags left unset on the command line."""
        return {"region": self.aws_region or self.aws_default_region, "repository": self.ecr_repository,
                "image_tag": self.image_tag, "bucket": self.deploy_bucket, "application": self.codedeploy_app,
                "group": self.codedeploy_group, "bundle_prefix": self.deploy_bundle_prefix,
                "timeout": self.deploy_timeout}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The deploy commands and their flags (unset flags take ``DeploySettings``, read by ``run``)."""
    commands = parser.add_subparsers(dest="deploy_command", required=True)

    def command(name: str, helptext: str) -> argparse.ArgumentParser:
        p = commands.add_parser(name, help=helptext)
        p.set_defaults(deploy_parser=p)
        return p

    def region(p: argparse.ArgumentParser) -> None:
        p.add_argument("--region", help="env AWS_REGION")

    def repository(p: argparse.ArgumentParser) -> None:
        region(p)
        p.add_argument("--repository", help="ECR repository, env ECR_REPOSITORY")

    tag = command("tag", "print the immutable image tag <git sha>-m<model version>")
    tag.add_argument("--model-info", type=Path, default=Path("model/model_info.json"))
    tag.add_argument("--git-sha", default=None, help="default: env GITHUB_SHA, else git rev-parse HEAD")

    repository(command("ensure-repo", "create the ECR repository if missing; print its URI"))

    exists = command("image-exists", "print true or false: is the tag already in ECR")
    repository(exists)
    exists.add_argument("--image-tag", help="env IMAGE_TAG")

    bundle = command("bundle", "write the CodeDeploy revision bundle to a file (no AWS calls)")
    bundle.add_argument("--image-uri", required=True, help="<registry>/<repository>:<git sha>-m<model version>")
    region(bundle)
    bundle.add_argument("--out", type=Path, required=True)

    rel = command("release", "bundle, upload to S3, deploy with CodeDeploy, wait, report")
    repository(rel)
    rel.add_argument("--image-tag", help="env IMAGE_TAG")
    rel.add_argument("--bucket", help="S3 bucket for bundles, env DEPLOY_BUCKET")
    rel.add_argument("--application", help="env CODEDEPLOY_APP")
    rel.add_argument("--group", help="deployment group, env CODEDEPLOY_GROUP")
    rel.add_argument("--bundle-prefix", help="env DEPLOY_BUNDLE_PREFIX (default codedeploy)")
    rel.add_argument("--timeout", type=float, help="seconds, env DEPLOY_TIMEOUT (default 1800)")
    rel.add_argument("--poll-interval", type=float, default=15.0, help="seconds")
    rel.add_argument("--no-wait", action="store_true", help="return after creating the deployment")


def _require(args: argparse.Namespace, **flags: str) -> None:
    """Exit 2 with the command's usage when a flag has neither a value nor its environment variable."""
    missing = [f"--{flag.replace('_', '-')} (env {env})" for flag, env in flags.items() if not getattr(args, flag)]
    if missing:
        args.deploy_parser.error("missing " + ", ".join(missing))


def _write_step_summary(markdown: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(markdown)


def run(args: argparse.Namespace) -> int:
    """Run one deploy command; a DeployError propagates (exit 2 through ``run_main``), AWS failures exit 1."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    for flag, value in DeploySettings.from_env().defaults().items():
        if getattr(args, flag, False) is None:
            setattr(args, flag, value)
    command = args.deploy_command
    if command == "tag":
        print(image_tag(args.git_sha or current_git_sha(), read_model_version(args.model_info)))
        return EXIT_OK
    if command == "bundle":
        _require(args, region="AWS_REGION")
        args.out.write_bytes(build_bundle(args.image_uri, args.region))
        log.info("wrote %s", args.out)
        return EXIT_OK

    session = boto3.session.Session(region_name=args.region)
    try:
        if command == "ensure-repo":
            _require(args, region="AWS_REGION", repository="ECR_REPOSITORY")
            print(ensure_repository(session.client("ecr"), args.repository))
            return EXIT_OK
        if command == "image-exists":
            _require(args, region="AWS_REGION", repository="ECR_REPOSITORY", image_tag="IMAGE_TAG")
            found = image_exists(session.client("ecr"), args.repository, validate_image_tag(args.image_tag))
            print("true" if found else "false")
            return EXIT_OK
        _require(args, region="AWS_REGION", repository="ECR_REPOSITORY", image_tag="IMAGE_TAG",
                 bucket="DEPLOY_BUCKET", application="CODEDEPLOY_APP", group="CODEDEPLOY_GROUP")
        outcome = release(
            session=session, tag=args.image_tag, region=args.region, repository=args.repository,
            bucket=args.bucket, application=args.application, group=args.group, bundle_prefix=args.bundle_prefix,
            timeout=args.timeout, poll_interval=args.poll_interval, wait=not args.no_wait,
        )
    except (ClientError, BotoCoreError) as exc:
        log.error("AWS call failed: %s", exc)
        return EXIT_FAILED

    print(json.dumps({**asdict(outcome), "succeeded": outcome.succeeded, "rolled_back": outcome.rolled_back}))
    _write_step_summary(outcome.to_markdown())
    if not outcome.succeeded:
        reason = "timed out waiting for" if outcome.timed_out else "failed:"
        log.error("deployment %s %s %s", reason, outcome.deployment_id, outcome.error_message or outcome.status)
    return outcome.exit_code if not args.no_wait else EXIT_OK


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="ytsentiment deploy", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m ytsentiment.deploy``; ``ytsentiment deploy`` reaches ``run`` through cli.py."""
    return run_main(_main, argv)
