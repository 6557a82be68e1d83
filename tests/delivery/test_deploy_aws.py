"""The deploy module against moto (S3, ECR, CodeDeploy on loopback): same boto3 calls as production.

moto keeps every deployment "Created" forever, so the success/failure/rollback paths live in
test_deploy_wait.py; here the deployment is created for real and the bounded wait times out.
"""

from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID

from ytsentiment.deploy import DeployError
from ytsentiment.deploy.cli import main
from ytsentiment.deploy.ecr import ensure_repository, image_exists
from ytsentiment.deploy.release import release as run_release

from .conftest import REGION, REPO

SHA = "deadbeef" * 5  # a 40-digit git sha
TAG = f"{SHA}-m7"
REPOSITORY, BUCKET, APP, GROUP = (
    "ytsentiment-test",
    "ytsentiment-test-bundles",
    "ytsentiment",
    "ytsentiment-fleet",
)


def clients():
    session = boto3.session.Session(region_name=REGION)
    return session, session.client("ecr"), session.client("s3"), session.client("codedeploy")


@pytest.fixture
def fleet(aws):
    """What infra/ would have created: bucket, CodeDeploy application and deployment group."""
    session, ecr, s3, codedeploy = clients()
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    codedeploy.create_application(applicationName=APP, computePlatform="Server")
    codedeploy.create_deployment_group(
        applicationName=APP,
        deploymentGroupName=GROUP,
        serviceRoleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/codedeploy",
        deploymentConfigName="CodeDeployDefault.OneAtATime",
    )
    return session


def push_image(ecr, tag=TAG):
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"digest": "sha256:" + "ab" * 32, "size": 1, "mediaType": "application/json"},
        "layers": [],
    }
    ecr.put_image(repositoryName=REPOSITORY, imageManifest=json.dumps(manifest), imageTag=tag)


def test_ensure_repository_creates_an_immutable_scanned_repository_once(aws):
    _, ecr, _, _ = clients()
    uri = ensure_repository(ecr, REPOSITORY)
    again = ensure_repository(ecr, REPOSITORY)
    assert uri == again and uri.endswith(f"/{REPOSITORY}")
    repos = ecr.describe_repositories()["repositories"]
    assert len(repos) == 1
    assert repos[0]["imageTagMutability"] == "IMMUTABLE"
    assert repos[0]["imageScanningConfiguration"]["scanOnPush"] is True


def test_image_exists(aws):
    _, ecr, _, _ = clients()
    ensure_repository(ecr, REPOSITORY)
    assert not image_exists(ecr, REPOSITORY, TAG)
    push_image(ecr)
    assert image_exists(ecr, REPOSITORY, TAG)


def release(session, **kw):
    args = dict(
        session=session,
        tag=TAG,
        region=REGION,
        repository=REPOSITORY,
        bucket=BUCKET,
        application=APP,
        group=GROUP,
        source_root=REPO,
    )
    args.update(kw)
    return run_release(**args)


def test_release_refuses_an_image_that_was_never_pushed(fleet):
    _, ecr, _, codedeploy = clients()
    with pytest.raises(DeployError, match="does not exist"):
        release(fleet)
    ensure_repository(ecr, REPOSITORY)
    with pytest.raises(DeployError, match="is not in ECR"):
        release(fleet)
    assert codedeploy.list_deployments(applicationName=APP, deploymentGroupName=GROUP)["deployments"] == []


def test_release_uploads_the_bundle_creates_the_deployment_and_times_out_on_moto(fleet):
    _, ecr, s3, codedeploy = clients()
    uri = ensure_repository(ecr, REPOSITORY)
    push_image(ecr)
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    outcome = release(fleet, timeout=45, poll_interval=15, clock=lambda: now[0], sleep=sleep)

    # moto keeps every deployment "Created": the bounded wait must give up with a timeout, not hang.
    assert outcome.timed_out and outcome.status == "Created" and outcome.exit_code == 3
    assert now[0] == 45

    info = codedeploy.get_deployment(deploymentId=outcome.deployment_id)["deploymentInfo"]
    assert (info["applicationName"], info["deploymentGroupName"]) == (APP, GROUP)
    assert info["autoRollbackConfiguration"] == {
        "enabled": True,
        "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"],
    }
    location = info["revision"]["s3Location"]
    assert location["bucket"] == BUCKET and location["bundleType"] == "zip"
    assert location["key"] == f"codedeploy/{APP}/{TAG}.zip"

    obj = s3.get_object(Bucket=BUCKET, Key=location["key"], VersionId=location["version"])
    assert obj["ETag"].strip('"') == location["eTag"]
    with zipfile.ZipFile(io.BytesIO(obj["Body"].read())) as bundle:
        env = bundle.read("deploy.env").decode()
        names = set(bundle.namelist())
    assert f"IMAGE_URI='{uri}:{TAG}'" in env and f"AWS_REGION='{REGION}'" in env
    assert "appspec.yml" in names and "scripts/codedeploy/validate_service.sh" in names


def test_cli_release_reports_timeout_with_exit_code_3(fleet, tmp_path, monkeypatch, capsys):
    _, ecr, _, codedeploy = clients()
    ensure_repository(ecr, REPOSITORY)
    push_image(ecr)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    for name, value in {
        "ECR_REPOSITORY": REPOSITORY,
        "DEPLOY_BUCKET": BUCKET,
        "CODEDEPLOY_APP": APP,
        "CODEDEPLOY_GROUP": GROUP,
    }.items():
        monkeypatch.setenv(name, value)

    code = main(["release", "--image-tag", TAG, "--timeout", "0.3", "--poll-interval", "0.1"])

    assert code == 3
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["timed_out"] is True and report["status"] == "Created"
    listed = codedeploy.list_deployments(applicationName=APP, deploymentGroupName=GROUP)["deployments"]
    assert listed == [report["deployment_id"]]
    assert "| status | TimedOut |" in summary.read_text()


def test_cli_release_no_wait_and_missing_settings(fleet, capsys):
    _, ecr, _, _ = clients()
    ensure_repository(ecr, REPOSITORY)
    push_image(ecr)
    base = [
        "release",
        "--image-tag",
        TAG,
        "--repository",
        REPOSITORY,
        "--bucket",
        BUCKET,
        "--application",
        APP,
    ]
    with pytest.raises(SystemExit) as exc:
        main(base)  # no group anywhere
    assert exc.value.code == 2
    assert "--group (env CODEDEPLOY_GROUP)" in capsys.readouterr().err

    assert main([*base, "--group", GROUP, "--no-wait"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["status"] == "Created"


def test_cli_refuses_latest_and_reports_aws_errors(aws, caplog):
    assert main(["image-exists", "--repository", REPOSITORY, "--image-tag", "latest"]) == 2
    assert "refusing to deploy ':latest'" in caplog.text
    caplog.clear()
    # The repository does not exist: a clear one-line AWS error, exit 1, no traceback.
    assert main(["image-exists", "--repository", REPOSITORY, "--image-tag", TAG]) == 1
    assert "AWS call failed" in caplog.text and "RepositoryNotFoundException" in caplog.text


def test_cli_ensure_repo_and_image_exists(aws, capsys):
    assert main(["ensure-repo", "--repository", REPOSITORY]) == 0
    uri = capsys.readouterr().out.strip()
    assert uri.endswith(f"/{REPOSITORY}")
    assert main(["image-exists", "--repository", REPOSITORY, "--image-tag", TAG]) == 0
    assert capsys.readouterr().out.strip() == "false"
    push_image(clients()[1])
    assert main(["image-exists", "--repository", REPOSITORY, "--image-tag", TAG]) == 0
    assert capsys.readouterr().out.strip() == "true"
