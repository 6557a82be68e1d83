"""One release: the tagged image must be in ECR; bundle it, put the bundle in S3, deploy it, wait for the outcome."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ytsentiment.deploy import DeployError
from ytsentiment.deploy.bundle import REPO_ROOT, build_bundle, upload_bundle
from ytsentiment.deploy.codedeploy import (
    DeploymentOutcome,
    codedeploy_status_source,
    create_deployment,
    wait_for_deployment,
)
from ytsentiment.deploy.ecr import image_exists
from ytsentiment.deploy.tags import validate_image_tag

log = logging.getLogger(__name__)


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
        repository_uri = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]["repositoryUri"]
    except ecr.exceptions.RepositoryNotFoundException:
        raise DeployError(f"ECR repository {repository!r} does not exist: run `make push-image` first") from None
    if not image_exists(ecr, repository, tag):
        raise DeployError(f"{repository}:{tag} is not in ECR: run `make push-image IMAGE_TAG={tag}` first")

    image_uri = f"{repository_uri}:{tag}"
    bundle = build_bundle(image_uri, region, source_root)
    key = f"{bundle_prefix.strip('/')}/{application}/{tag}.zip"
    revision = upload_bundle(session.client("s3", region_name=region), bucket, key, bundle)
    log.info("uploaded revision s3://%s/%s (%d bytes)", bucket, key, len(bundle))

    codedeploy = session.client("codedeploy", region_name=region)
    deployment_id = create_deployment(codedeploy, application, group, revision, f"ytsentiment {tag}")
    log.info("created deployment %s of %s to %s/%s", deployment_id, image_uri, application, group)
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
