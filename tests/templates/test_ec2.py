"""The EC2 variant's generated configuration: what cannot run here (cfn-init, cfn-signal, the ALB,
the CloudWatch agent) is checked as data; the boot path itself runs in scripts/ec2_boot_tier.py."""

import json
import re

import pytest

from scripts import execution_policy
from tests.factories import ROOT
from tests.templates.conftest import evaluate, load_template, resources, walk

NETWORK = "infra/network.yaml"
EC2 = "infra/ec2.yaml"
UNIT = (ROOT / "deploy" / "ec2" / "simple-api.service").read_text()


def ec2():
    return load_template(EC2)


def props(template, name):
    return template["Resources"][name]["Properties"]


@pytest.mark.parametrize(("nat", "gateways"), [("per-az", 2), ("one", 1)])
def test_network_spans_two_azs_from_getazs_with_nat_per_az_or_one(nat, gateways):
    template = load_template(NETWORK)
    text = json.dumps(template)
    assert not re.search(r'"[a-z]{2}-[a-z]+-\d[a-z]"', text), "an Availability Zone is hard-coded"
    azs = [
        props(template, s)["AvailabilityZone"]
        for s in ("PublicSubnet1", "PublicSubnet2", "PrivateSubnet1", "PrivateSubnet2")
    ]
    assert azs == [{"Fn::Select": [i, {"Fn::GetAZs": ""}]} for i in (0, 1, 0, 1)]
    parameters = {"NatGateways": nat}
    present = [
        n
        for n, r in resources(template, "AWS::EC2::NatGateway").items()
        if "Condition" not in r or evaluate({"Condition": r["Condition"]}, parameters, template)
    ]
    assert len(present) == gateways
    routes = [
        evaluate(props(template, r)["NatGatewayId"], parameters, template)
        for r in ("PrivateDefaultRoute1", "PrivateDefaultRoute2")
    ]
    expected = [{"Ref": "NatGateway1"}, {"Ref": "NatGateway2"}] if gateways == 2 else [{"Ref": "NatGateway1"}] * 2
    assert routes == expected


def test_network_has_the_s3_endpoint_flow_logs_and_the_outputs_workloads_need():
    template = load_template(NETWORK)
    endpoint = props(template, "S3Endpoint")
    assert endpoint["VpcEndpointType"] == "Gateway"
    assert endpoint["RouteTableIds"] == [{"Ref": "PrivateRouteTable1"}, {"Ref": "PrivateRouteTable2"}]
    assert props(template, "FlowLog")["ResourceId"] == {"Ref": "Vpc"}
    assert {"VpcId", "VpcCidr", "PublicSubnetIds", "PrivateSubnetIds"} <= set(template["Outputs"])
    for subnet in ("PublicSubnet1", "PublicSubnet2"):
        assert props(template, subnet)["MapPublicIpOnLaunch"] is False


def test_instances_require_imdsv2_encrypted_gp3_no_public_ip_al2023():
    template = ec2()
    data = props(template, "LaunchTemplate")["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    (disk,) = data["BlockDeviceMappings"]
    assert disk["Ebs"]["VolumeType"] == "gp3" and disk["Ebs"]["Encrypted"] is True
    assert data["NetworkInterfaces"][0]["AssociatePublicIpAddress"] is False
    image = template["Parameters"]["ImageId"]
    assert image["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    assert image["Default"].startswith("/aws/service/ami-amazon-linux-latest/al2023-ami")


def test_every_deploy_builds_a_new_fleet_and_keeps_the_old_one_on_failure():
    template = ec2()
    group = template["Resources"]["AutoScalingGroup"]
    assert group["UpdatePolicy"] == {"AutoScalingReplacingUpdate": {"WillReplace": True}}
    assert group["CreationPolicy"]["ResourceSignal"]["Count"] == {"Ref": "DesiredCapacity"}
    assert group["Properties"]["VPCZoneIdentifier"] == {"Ref": "PrivateSubnetIds"}
    assert group["Properties"]["HealthCheckType"] == "ELB"
    assert group["Properties"]["MinSize"] == group["Properties"]["DesiredCapacity"] == {"Ref": "DesiredCapacity"}
    assert group["Properties"]["LaunchTemplate"]["Version"] == {"Fn::GetAtt": ["LaunchTemplate", "LatestVersionNumber"]}
    user_data = props(template, "LaunchTemplate")["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"]
    assert "${BundleKey}" in user_data, "a new bundle must change the launch template"


def test_cfn_signal_reports_the_healthcheck_and_an_http_error_fails_it():
    user_data = props(ec2(), "LaunchTemplate")["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"]
    lines = [line.strip() for line in user_data.splitlines()]
    check = next(i for i, line in enumerate(lines) if line.startswith("curl "))
    signal = next(i for i, line in enumerate(lines) if "cfn-signal" in line)
    assert check < signal
    assert "-f" in lines[check].split() or "-fsS" in lines[check].split()
    assert "http://127.0.0.1:${AppPort}/healthcheck" in lines[check]
    assert lines[check + 1] == "status=$?" and '-e "$status"' in lines[signal]
    assert "--resource AutoScalingGroup" in lines[signal]


def test_cfn_init_installs_the_bundle_configures_and_starts_the_service():
    init = ec2()["Resources"]["LaunchTemplate"]["Metadata"]["AWS::CloudFormation::Init"]
    assert init["configSets"]["install"] == ["packages", "bundle", "configure", "start"]
    assert init["bundle"]["commands"]["01-install"]["command"] == "bash /opt/simple-api/bundle/deploy/ec2/install.sh"
    files = init["configure"]["files"]
    env = files["/etc/simple-api/env"]["content"]["Fn::Sub"]
    for key in (
        "HOST_BIND=0.0.0.0:${AppPort}",
        "SECRET_PARAMETER_NAME=${SecretParameterName}",
        "AWS_REGION=${AWS::Region}",
    ):
        assert key in env
    assert files["/etc/simple-api/env"]["group"] == "simple-api"
    agent = json.loads(
        files["/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"]["content"]["Fn::Sub"].replace(
            "${InstanceLogGroup}", "GROUP"
        )
    )
    (collected,) = agent["logs"]["logs_collected"]["files"]["collect_list"]
    assert f"StandardOutput=append:{collected['file_path']}" in UNIT, "the agent ships what the service writes"
    assert collected["log_group_name"] == "GROUP"
    hook = files["/etc/cfn/hooks.d/simple-api.conf"]["content"]["Fn::Sub"]
    assert "path=Resources.LaunchTemplate.Metadata.AWS::CloudFormation::Init" in hook
    assert set(init["start"]["services"]["systemd"]) == {"simple-api", "cfn-hup"}


def test_the_unit_runs_gunicorn_as_a_non_root_user_and_restarts_on_failure():
    settings = dict(line.split("=", 1) for line in UNIT.splitlines() if "=" in line and not line.startswith("#"))
    assert settings["User"] == "simple-api" and settings["Group"] == "simple-api"
    assert settings["Restart"] == "on-failure"
    assert settings["EnvironmentFile"] == "/etc/simple-api/env"
    assert settings["ExecStart"].split()[0].endswith("/venv/bin/gunicorn") and "host.wsgi:app" in settings["ExecStart"]
    assert settings["NoNewPrivileges"] == "true"


def test_the_port_is_one_number_from_the_target_group_to_gunicorn():
    template = ec2()
    assert props(template, "TargetGroup")["Port"] == {"Ref": "AppPort"}
    assert props(template, "TargetGroup")["HealthCheckPath"] == "/healthcheck"
    ingress = props(template, "InstanceSecurityGroup")["SecurityGroupIngress"]
    assert ingress == [
        {
            "IpProtocol": "tcp",
            "FromPort": {"Ref": "AppPort"},
            "ToPort": {"Ref": "AppPort"},
            "SourceSecurityGroupId": {"Ref": "AlbSecurityGroup"},
            "Description": "from the ALB",
        }
    ]


def test_the_bastion_is_off_by_default_and_never_open_to_the_world():
    template = ec2()
    assert template["Parameters"]["EnableBastion"]["Default"] == "false"
    assert template["Parameters"]["BastionSshCidr"]["Default"] == ""
    assert template["Resources"]["Bastion"]["Condition"] == "Bastion"
    assert evaluate({"Condition": "Bastion"}, {"EnableBastion": "true", "BastionSshCidr": ""}, template) is False
    ssh = props(template, "BastionSecurityGroup")["SecurityGroupIngress"]
    assert all(rule["CidrIp"] == {"Ref": "BastionSshCidr"} for rule in ssh)


def test_the_instance_role_reads_exactly_its_bundle_secret_logs_and_stack():
    statements = props(ec2(), "InstanceRole")["Policies"][0]["PolicyDocument"]["Statement"]
    by_sid = {s["Sid"]: s for s in statements if isinstance(s, dict) and "Sid" in s}
    assert by_sid["ReadTheBundle"]["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${BundleBucket}/${BundleKey}"}
    assert by_sid["ReadTheSecretParameter"]["Action"] == "ssm:GetParameter"
    assert by_sid["BootThroughCloudFormation"]["Resource"] == {"Ref": "AWS::StackId"}
    anywhere = [sid for sid, s in by_sid.items() if s.get("Resource") == "*"]
    assert anywhere == ["SessionManagerChannelsHaveNoResourceLevelPermission"]  # ssmmessages, ec2messages
    channels = by_sid[anywhere[0]]["Action"]
    assert all(execution_policy.accepted_resource_types(a) == set() for a in channels), channels
    assert props(ec2(), "InstanceRole")["Path"] == {"Ref": "RolePath"}


def test_alarms_go_to_the_topic_and_the_dashboard_shows_p95_and_alarms():
    template = ec2()
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopicArn"}]
    latency = props(template, "LatencyP95Alarm")
    assert (latency["MetricName"], latency["ExtendedStatistic"]) == ("TargetResponseTime", "p95")
    body = props(template, "Dashboard")["DashboardBody"]["Fn::Sub"][0]
    assert '"stat": "p95"' in body and '"type": "alarm"' in body


def test_the_root_stack_nests_the_variant_only_when_enabled():
    root = load_template()
    assert root["Parameters"]["EnableEc2"]["Default"] == "false"
    for name in ("NetworkStack", "Ec2Stack"):
        assert root["Resources"][name]["Type"] == "AWS::CloudFormation::Stack"
        assert evaluate({"Condition": root["Resources"][name]["Condition"]}, {}, root) is False
        assert evaluate({"Condition": root["Resources"][name]["Condition"]}, {"EnableEc2": "true"}, root) is True
    assert root["Resources"]["NetworkStack"]["Properties"]["TemplateURL"] == NETWORK
    assert root["Resources"]["Ec2Stack"]["Properties"]["TemplateURL"] == EC2
    assert root["Outputs"]["Ec2Url"]["Condition"] == "Ec2Enabled"
    rule = root["Rules"]["Ec2NeedsABundle"]
    assert {"Ref": "Ec2BundleKey"} in list(walk(rule))
    passed = set(root["Resources"]["Ec2Stack"]["Properties"]["Parameters"])
    required = {name for name, spec in ec2()["Parameters"].items() if "Default" not in spec}
    assert required <= passed, required - passed
