"""Image tags and the CodeDeploy revision bundle (no AWS calls)."""

from __future__ import annotations

import io
import json
import shutil
import stat
import zipfile

import pytest

from ytsentiment.deploy import DeployError
from ytsentiment.deploy.bundle import build_bundle, hook_locations
from ytsentiment.deploy.cli import main
from ytsentiment.deploy.tags import image_tag, read_model_version, validate_image_tag

from .conftest import REPO

SHA = "deadbeef" * 5  # a 40-digit git sha
URI = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/ytsentiment:{SHA}-m3"


def test_image_tag_is_sha_plus_model_version():
    assert image_tag(SHA.upper(), "3") == f"{SHA}-m3"
    assert image_tag(SHA[:7], 12) == f"{SHA[:7]}-m12"


@pytest.mark.parametrize(
    ("sha", "version", "message"),
    [
        ("not-a-sha", "3", "hex digits"),
        (SHA, "latest", "version number"),
        (SHA, "", "version number"),
        ("abc", "3", "hex digits"),
    ],
)
def test_image_tag_rejects_bad_inputs(sha, version, message):
    with pytest.raises(DeployError, match=message):
        image_tag(sha, version)


@pytest.mark.parametrize("tag", ["latest", "", "v1", f"{SHA}", f"{SHA}-latest", f"{SHA}-m3;rm -rf /"])
def test_only_immutable_tags_are_valid(tag):
    with pytest.raises(DeployError):
        validate_image_tag(tag)


def test_read_model_version(tmp_path):
    info = tmp_path / "model_info.json"
    with pytest.raises(DeployError, match="make export"):
        read_model_version(info)
    info.write_text("{not json")
    with pytest.raises(DeployError, match="not valid JSON"):
        read_model_version(info)
    info.write_text(json.dumps({"name": "ytsentiment", "alias": "production"}))
    with pytest.raises(DeployError, match="numeric 'version'"):
        read_model_version(info)
    info.write_text(json.dumps({"name": "ytsentiment", "version": "5"}))
    assert read_model_version(info) == "5"


def test_cli_tag(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    info = tmp_path / "model_info.json"
    info.write_text(json.dumps({"version": "4"}))
    assert main(["tag", "--model-info", str(info), "--git-sha", SHA]) == 0
    assert capsys.readouterr().out.strip() == f"{SHA}-m4"
    monkeypatch.setenv("GITHUB_SHA", SHA[:10])
    assert main(["tag", "--model-info", str(info)]) == 0
    assert capsys.readouterr().out.strip() == f"{SHA[:10]}-m4"
    assert main(["tag", "--model-info", str(tmp_path / "missing.json")]) == 2


def test_bundle_holds_appspec_hooks_and_the_exact_image():
    data = build_bundle(URI, "eu-west-1", REPO)
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        infos = {i.filename: i for i in bundle.infolist()}
        env = bundle.read("deploy.env").decode()
        appspec = bundle.read("appspec.yml").decode()
    hooks = hook_locations(appspec)
    assert hooks and set(hooks) <= set(infos)
    assert "scripts/codedeploy/common.sh" in infos  # sourced by every hook
    assert env == f"IMAGE_URI='{URI}'\nAWS_REGION='eu-west-1'\n"
    for name, info in infos.items():
        mode = stat.S_IMODE(info.external_attr >> 16)
        assert mode == (0o755 if name.endswith(".sh") else 0o644), name
    # Nothing from outside the hooks folder (no source, no model, no secrets) travels in the bundle.
    assert all(n in {"appspec.yml", "deploy.env"} or n.startswith("scripts/codedeploy/") for n in infos)


def test_bundle_is_deterministic():
    assert build_bundle(URI, "eu-west-1", REPO) == build_bundle(URI, "eu-west-1", REPO)


@pytest.mark.parametrize(
    ("uri", "region", "message"),
    [
        (URI.replace(f"{SHA}-m3", "latest"), "eu-west-1", "latest"),
        (URI, "Ireland", "region"),
        ("ytsentiment", "eu-west-1", "not <registry>"),
        (URI.replace("ytsentiment", "ytsentiment';reboot;'"), "eu-west-1", "not <registry>"),
    ],
)
def test_bundle_rejects_unsafe_or_mutable_images(uri, region, message):
    with pytest.raises(DeployError, match=message):
        build_bundle(uri, region, REPO)


def test_bundle_refuses_an_appspec_naming_a_missing_hook(tmp_path):
    shutil.copy(REPO / "appspec.yml", tmp_path / "appspec.yml")
    shutil.copytree(REPO / "scripts" / "codedeploy", tmp_path / "scripts" / "codedeploy")
    (tmp_path / "scripts" / "codedeploy" / "validate_service.sh").unlink()
    with pytest.raises(DeployError, match="validate_service.sh"):
        build_bundle(URI, "eu-west-1", tmp_path)


def test_cli_bundle_writes_a_file(tmp_path):
    out = tmp_path / "revision.zip"
    assert main(["bundle", "--image-uri", URI, "--region", "eu-west-1", "--out", str(out)]) == 0
    assert zipfile.ZipFile(out).read("deploy.env").decode().startswith(f"IMAGE_URI='{URI}'")


def test_ytsentiment_deploy_is_the_same_entry_point(tmp_path, capsys):
    """`ytsentiment deploy ...` (the CLI's plugin verb) runs the same commands and exit codes as `python -m`."""
    from ytsentiment.cli import main as ytsentiment

    out = tmp_path / "revision.zip"
    assert ytsentiment(["deploy", "bundle", "--image-uri", URI, "--region", "eu-west-1", "--out", str(out)]) == 0
    assert zipfile.ZipFile(out).read("deploy.env").decode() == f"IMAGE_URI='{URI}'\nAWS_REGION='eu-west-1'\n"
    assert ytsentiment(["deploy", "tag", "--model-info", str(tmp_path / "missing.json"), "--git-sha", SHA]) == 2
    with pytest.raises(SystemExit) as exc:
        ytsentiment(["deploy", "bundle", "--image-uri", URI, "--out", str(out), "--region", ""])
    assert exc.value.code == 2 and "missing --region (env AWS_REGION)" in capsys.readouterr().err
