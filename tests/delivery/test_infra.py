"""The CloudFormation template's promises beyond cfn-lint (which runs in test_lint.py): the pieces the deploy
module and hooks rely on exist and are wired the way the README says."""

from __future__ import annotations

import yaml

from .conftest import REPO


class CfnLoader(yaml.SafeLoader):
    """Reads !Ref, !Sub, !GetAtt ... as {"Ref": ...} / {"Fn::Sub": ...} so the template is plain data."""


def _tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        value = value.split(".", 1) if suffix == "GetAtt" else value
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _tag)
TEMPLATE = yaml.load((REPO / "infra" / "ytsentiment.yaml").read_text(), Loader=CfnLoader)  # noqa: S506
RESOURCES = TEMPLATE["Resources"]


def of_type(kind: str) -> dict:
    return {name: r for name, r in RESOURCES.items() if r["Type"] == kind}


def test_ecr_repository_has_immutable_tags_and_scanning():
    (repo,) = of_type("AWS::ECR::Repository").values()
    assert repo["Properties"]["ImageTagMutability"] == "IMMUTABLE"
    assert repo["Properties"]["ImageScanningConfiguration"]["ScanOnPush"] is True


def test_three_private_encrypted_versioned_buckets_with_outputs():
    buckets = of_type("AWS::S3::Bucket")
    assert set(buckets) == {"DvcRemoteBucket", "MlflowArtifactsBucket", "DeployBundleBucket"}
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert all(props["PublicAccessBlockConfiguration"].values())
        assert props["VersioningConfiguration"]["Status"] == "Enabled"
        assert "BucketName" not in props  # names are generated, never hard-coded
    outputs = TEMPLATE["Outputs"]
    assert {
        "DvcRemoteUrl",
        "MlflowArtifactRoot",
        "DeployBucket",
        "EcrRepository",
        "CodeDeployApp",
        "CodeDeployGroup",
        "GitHubRoleArn",
        "AwsRegion",
    } <= set(outputs)


def test_target_group_checks_readiness():
    (group,) = of_type("AWS::ElasticLoadBalancingV2::TargetGroup").values()
    assert group["Properties"]["HealthCheckPath"] == "/ready"
    assert group["Properties"]["Matcher"] == {"HttpCode": "200"}


def test_deployment_group_is_rolling_behind_the_alb_with_automatic_rollback():
    (group,) = of_type("AWS::CodeDeploy::DeploymentGroup").values()
    props = group["Properties"]
    assert props["DeploymentStyle"] == {
        "DeploymentType": "IN_PLACE",
        "DeploymentOption": "WITH_TRAFFIC_CONTROL",
    }
    assert props["DeploymentConfigName"] == "CodeDeployDefault.OneAtATime"
    assert props["LoadBalancerInfo"]["TargetGroupInfoList"] == [
        {"Name": {"Fn::GetAtt": ["TargetGroup", "TargetGroupName"]}}
    ]
    assert props["AutoRollbackConfiguration"] == {
        "Enabled": True,
        "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"],
    }
    assert props["AutoScalingGroups"] == [{"Ref": "AutoScalingGroup"}]


def test_github_role_trusts_only_this_repository_through_oidc():
    role = RESOURCES["GitHubDeployRole"]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    conditions = statement["Condition"]["StringEquals"]
    assert conditions["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    assert conditions["token.actions.githubusercontent.com:sub"] == {
        "Fn::Sub": "repo:${GitHubRepository}:environment:${GitHubEnvironment}"
    }
    assert "StringLike" not in statement["Condition"]  # no wildcard subjects


def test_instances_require_imdsv2_and_get_the_app_settings():
    data = RESOURCES["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    user_data = data["UserData"]["Fn::Base64"]["Fn::Sub"]
    assert "codedeploy-agent" in user_data and "/etc/ytsentiment/app.env" in user_data
