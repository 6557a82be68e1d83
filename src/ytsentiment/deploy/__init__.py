"""Ship a serving image to the EC2 fleet through ECR and CodeDeploy.

Run as ``ytsentiment deploy <command>`` or ``python -m ytsentiment.deploy <command>`` (``make image-tag``,
``make push-image``, ``make deploy`` and the CD workflow); the commands are listed in :mod:`.cli`.

- :mod:`.tags`        the immutable image tag ``<git sha>-m<model version>`` and its checks
- :mod:`.ecr`         the ECR repository (immutable tags, scan on push) and whether a tag is in it
- :mod:`.bundle`      the CodeDeploy revision: appspec.yml + scripts/codedeploy/ + deploy.env, zipped, put in S3
- :mod:`.codedeploy`  create a deployment and wait for it, bounded (a pure function over a status source and clock)
- :mod:`.release`     the whole release: ECR check -> bundle -> S3 -> CodeDeploy -> wait
- :mod:`.cli`         arguments, environment variables, exit codes (0 ok, 1 failed, 2 bad input, 3 timed out)

boto3 honours ``AWS_ENDPOINT_URL`` natively, which is how the tests point every client at moto: there is no
test-only code path.
"""

from __future__ import annotations

from ytsentiment import YtSentimentError


class DeployError(YtSentimentError):
    """A bad input or a precondition that does not hold; the message says what to fix (exit code 2)."""
