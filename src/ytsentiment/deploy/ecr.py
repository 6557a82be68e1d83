"""The ECR repository of the serving image: created once with immutable tags and scan on push."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def ensure_repository(ecr: Any, name: str) -> str:
    """Create the ECR repository ``name`` when missing (immutable tags, scan on push); return its URI."""
    try:
        repository = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    except ecr.exceptions.RepositoryNotFoundException:
        log.info("creating ECR repository %s", name)
        repository = ecr.create_repository(
            repositoryName=name,
            imageTagMutability="IMMUTABLE",
            imageScanningConfiguration={"scanOnPush": True},
            encryptionConfiguration={"encryptionType": "AES256"},
        )["repository"]
    if repository.get("imageTagMutability") != "IMMUTABLE":
        log.warning("ECR repository %s allows tags to be overwritten; infra/ creates it IMMUTABLE", name)
    return repository["repositoryUri"]


def image_exists(ecr: Any, repository: str, tag: str) -> bool:
    """Whether ``repository:tag`` is already in ECR."""
    try:
        found = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ecr.exceptions.ImageNotFoundException:
        return False
    return bool(found.get("imageDetails"))
