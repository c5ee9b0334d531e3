"""The Fargate variant as data (the image itself is built and run by the container tier)."""

import json
import re

from tests.factories import ROOT
from tests.templates.conftest import evaluate, load_template, resources

FARGATE = "infra/fargate.yaml"
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def fargate():
    return load_template(FARGATE)


def props(name):
    return fargate()["Resources"][name]["Properties"]


def container():
    (definition,) = props("TaskDefinition")["ContainerDefinitions"]
    return definition


def test_the_repository_scans_keeps_tags_immutable_expires_and_empties_on_delete():
    repository = props("Repository")
    assert repository["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert repository["ImageTagMutability"] == "IMMUTABLE"
    assert repository["EmptyOnDelete"] is True
    rules = json.loads(repository["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
    assert {rule["action"]["type"] for rule in rules} == {"expire"}


def test_the_image_tag_is_the_commit_parameter_and_no_tag_means_no_task():
    image = container()["Image"]["Fn::Sub"]
    assert image[0] == "${Uri}:${Tag}"
    assert image[1]["Tag"] == {"Fn::If": ["HasImage", {"Ref": "ImageTag"}, "none"]}
    desired = props("Service")["DesiredCount"]
    template = fargate()
    assert evaluate(desired, {"ImageTag": ""}, template) == 0
    assert evaluate(desired, {"ImageTag": "3f9c2ab"}, template) == "2"


def test_the_task_runs_non_root_read_only_with_a_healthcheck_and_logs():
    definition = container()
    assert definition["User"] == "10001:10001" and definition["ReadonlyRootFilesystem"] is True
    assert "/healthcheck" in " ".join(definition["HealthCheck"]["Command"])
    logs = definition["LogConfiguration"]
    assert logs["LogDriver"] == "awslogs" and logs["Options"]["awslogs-group"] == {"Ref": "TaskLogGroup"}
    assert container()["PortMappings"] == [{"ContainerPort": 8080, "Protocol": "tcp"}]
    assert props("TargetGroup")["Port"] == 8080 and props("TargetGroup")["HealthCheckPath"] == "/healthcheck"
    task = props("TaskDefinition")
    assert (task["Cpu"], task["Memory"]) == ({"Ref": "Cpu"}, {"Ref": "Memory"})
    assert task["RequiresCompatibilities"] == ["FARGATE"] and task["NetworkMode"] == "awsvpc"


def test_the_rollout_keeps_full_capacity_and_rolls_back_on_the_breaker_or_the_alarms():
    service = props("Service")
    deployment = service["DeploymentConfiguration"]
    assert (deployment["MinimumHealthyPercent"], deployment["MaximumPercent"]) == (100, 200)
    assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert deployment["Alarms"] == {
        "AlarmNames": [{"Ref": "Target5xxAlarm"}, {"Ref": "LatencyP95Alarm"}],
        "Enable": True,
        "Rollback": True,
    }
    network = service["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network == {
        "AssignPublicIp": "DISABLED",
        "Subnets": {"Ref": "PrivateSubnetIds"},
        "SecurityGroups": [{"Ref": "TaskSecurityGroup"}],
    }
    policy = props("CpuTargetTracking")
    assert policy["PolicyType"] == "TargetTrackingScaling"


def test_the_roles_are_least_privilege():
    task = props("TaskRole")
    assert task["Path"] == {"Ref": "RolePath"}
    statements = task["Policies"][0]["PolicyDocument"]["Statement"]
    assert statements[0]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SecretParameterName}"
    }
    execution = props("ExecutionRole")["Policies"][0]["PolicyDocument"]["Statement"]
    wildcard = [s for s in execution if s["Resource"] == "*"]
    assert [s["Action"] for s in wildcard] == ["ecr:GetAuthorizationToken"]  # it has no resource-level permission


def test_alarms_go_to_the_topic_and_the_cluster_has_container_insights():
    for alarm in resources(fargate(), "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopicArn"}]
    assert props("Cluster")["ClusterSettings"] == [{"Name": "containerInsights", "Value": "enabled"}]
    body = props("Dashboard")["DashboardBody"]["Fn::Sub"][0]
    assert '"stat": "p95"' in body and '"type": "alarm"' in body


def test_the_root_nests_fargate_only_when_enabled_and_shares_the_network_with_ec2():
    root = load_template()
    assert root["Parameters"]["EnableFargate"]["Default"] == "false"
    for enabled, network in (
        ({}, False),
        ({"EnableFargate": "true"}, True),
        ({"EnableEc2": "true"}, True),
        ({"EnableFargate": "true", "EnableEc2": "true"}, True),
    ):
        assert evaluate({"Condition": "NeedsNetwork"}, enabled, root) is network
    stack = root["Resources"]["FargateStack"]
    assert stack["Condition"] == "FargateEnabled" and stack["Properties"]["TemplateURL"] == FARGATE
    assert stack["Properties"]["Parameters"]["VpcId"] == {"Fn::GetAtt": ["NetworkStack", "Outputs.VpcId"]}
    assert root["Outputs"]["FargateUrl"]["Condition"] == "FargateEnabled"
    required = {name for name, spec in fargate()["Parameters"].items() if "Default" not in spec}
    assert required <= set(stack["Properties"]["Parameters"])


def test_the_dockerfile_is_multi_stage_offline_non_root_with_a_healthcheck():
    assert re.search(r"^ARG BASE_IMAGE=python:3\.13-slim$", DOCKERFILE, re.MULTILINE)
    assert len(re.findall(r"^FROM \$\{BASE_IMAGE\}", DOCKERFILE, re.MULTILINE)) == 2
    assert "--no-index" in DOCKERFILE and "--require-hashes" in DOCKERFILE
    assert re.search(r"^USER 10001:10001$", DOCKERFILE, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*\n.*/healthcheck", DOCKERFILE, re.MULTILINE)
    assert "EXPOSE 8080" in DOCKERFILE and "HOST_BIND=0.0.0.0:8080" in DOCKERFILE
    assert not re.search(r"(?i)secret[_a-z]*\s*=", DOCKERFILE), "no secret in any layer"
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[1] == "*" or "*" in ignore, "the build context is an allowlist"


def test_the_pipelines_repository_replaces_the_stacks_own_for_the_image_and_the_pull():
    template = fargate()
    assert template["Resources"]["Repository"]["Condition"] == "OwnRepository"
    chosen = {"ImageRepository": "aws-cicd-pipeline-images", "ImageTag": "3f9c2ab"}
    uri = evaluate(container()["Image"], chosen, template)["Fn::Sub"][1]["Uri"]
    assert uri == {"Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/${ImageRepository}"}
    pulls = [
        s
        for policy in props("ExecutionRole")["Policies"]
        for s in evaluate(policy["PolicyDocument"]["Statement"], chosen, template)
        if "ecr:BatchGetImage" in s["Action"]
    ]
    assert pulls[0]["Resource"]["Fn::Sub"].endswith(":repository/${ImageRepository}")
    own = evaluate(container()["Image"], {"ImageRepository": "", "ImageTag": "3f9c2ab"}, template)
    assert own["Fn::Sub"][1]["Uri"] == {"Fn::GetAtt": ["Repository", "RepositoryUri"]}
    root = load_template()["Resources"]["FargateStack"]["Properties"]["Parameters"]
    assert root["ImageRepository"] == {"Ref": "FargateImageRepository"}
