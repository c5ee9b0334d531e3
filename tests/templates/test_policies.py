"""House policies no linter enforces: least privilege, log retention, encryption, alarm routing."""

import json
import re

import pytest

from tests.factories import ROOT
from tests.templates.conftest import SOURCES, load_template, resources, walk

TEMPLATES = ["template.yaml", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "infra").glob("*.yaml"))]


def every_template(translated):
    """The committed templates, the Chalice flavour's SAM template and ``translated``."""
    return [load_template(path) for path in TEMPLATES] + [load_template(SOURCES["chalice"]), translated]


def _branches(statement):
    """A statement, or both branches of a Fn::If that chooses one (AWS::NoValue dropped)."""
    if isinstance(statement, dict) and set(statement) == {"Fn::If"}:
        for branch in statement["Fn::If"][1:]:
            yield from _branches(branch)
    elif isinstance(statement, dict) and statement != {"Ref": "AWS::NoValue"}:
        yield statement


def statements(document):
    for node in walk(document):
        if isinstance(node, dict) and "Statement" in node:
            found = node["Statement"]
            for statement in found if isinstance(found, list) else [found]:
                yield from _branches(statement)


def wildcard_actions(document):
    problems = []
    for statement in statements(document):
        actions = statement.get("Action", []) if isinstance(statement, dict) else []
        actions = actions if isinstance(actions, list) else [actions]
        allowing = not isinstance(statement, dict) or statement.get("Effect", "Allow") == "Allow"
        problems += [json.dumps(statement) for action in actions if action == "*" and allowing]  # a Deny of all is fine
        if isinstance(statement, dict) and "NotAction" in statement and statement.get("Effect") == "Allow":
            problems.append(json.dumps(statement))
    return problems


def test_no_administrator_access_anywhere(any_translated):
    for document in every_template(any_translated):
        assert "AdministratorAccess" not in json.dumps(document)
        assert "PowerUserAccess" not in json.dumps(document)


def test_no_wildcard_action_anywhere(any_translated):
    for document in every_template(any_translated):
        assert wildcard_actions(document) == []


def test_the_wildcard_check_can_fail():
    document = {
        "Resources": {
            "R": {
                "Properties": {
                    "PolicyDocument": {
                        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "*"], "Resource": "arn"}]
                    }
                }
            }
        }
    }
    assert wildcard_actions(document)
    assert wildcard_actions({"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}})


def test_no_public_principal(any_translated):
    """Nothing is allowed to everyone (a Deny for everyone, as in a TLS-only bucket policy, is fine)."""
    for document in every_template(any_translated):
        for statement in statements(document):
            if statement.get("Effect") == "Allow":
                assert statement.get("Principal") not in ("*", {"AWS": "*"}), statement


def test_every_log_group_keeps_logs_for_a_bounded_time_and_is_encrypted(any_translated):
    for document in every_template(any_translated):
        for name, group in resources(document, "AWS::Logs::LogGroup").items():
            assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
            assert "KmsKeyId" in group["Properties"], name


def test_every_function_logs_to_a_log_group_of_this_stack(any_translated):
    groups = resources(any_translated, "AWS::Logs::LogGroup")
    for name, function in resources(any_translated, "AWS::Lambda::Function").items():
        target = function["Properties"]["LoggingConfig"]["LogGroup"]
        assert target.get("Ref") in groups, name


SSM = "ssm.${AWS::Region}.${AWS::URLSuffix}"
USAGE = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncrypt", "kms:*", "*"}


def _actions(statement):
    actions = statement.get("Action", [])
    return actions if isinstance(actions, list) else [actions]


def test_only_the_secret_function_reads_and_only_the_exact_parameter(translated):
    readers = {}
    for kind in ("AWS::IAM::Role", "AWS::IAM::Policy"):
        for name, document in resources(translated, kind).items():
            for statement in statements(document):
                if {"ssm:GetParameter", "ssm:GetParameters", "kms:Decrypt"} & set(_actions(statement)):
                    readers.setdefault(name, []).append(statement)
    assert set(readers) == {"SecretFunctionRole", "SecretKeyReadPolicy"}
    (get,) = readers["SecretFunctionRole"]
    assert get["Action"] == "ssm:GetParameter"
    assert get["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SecretParameterName}"
    }
    policy = resources(translated, "AWS::IAM::Policy")["SecretKeyReadPolicy"]["Properties"]
    assert policy["Roles"] == [{"Ref": "SecretFunctionRole"}]
    (decrypt,) = readers["SecretKeyReadPolicy"]
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": {"Fn::Sub": SSM}}}
    assert decrypt["Resource"]["Fn::If"][0] == "CreateSecret"
    assert decrypt["Resource"]["Fn::If"][1] == {"Fn::GetAtt": ["SecretKey", "Arn"]}
    assert decrypt["Resource"]["Fn::If"][2] == {
        "Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/${SecretKeyId}"
    }


WRITABLE = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${ServiceName}/*"


def test_the_writer_writes_only_this_services_parameters(translated):
    role = resources(translated, "AWS::IAM::Role")["SecureParameterFunctionRole"]
    ssm = [s for s in statements(role) if any(a.startswith("ssm:") for a in _actions(s))]
    assert ssm == [
        {
            "Sid": "WriteSecureStringsOfThisService",
            "Effect": "Allow",
            "Action": ["ssm:PutParameter", "ssm:DeleteParameter", "ssm:AddTagsToResource"],
            "Resource": {"Fn::Sub": WRITABLE},
        }
    ]
    assert not any(a.startswith("kms:") for s in statements(role) for a in _actions(s))


def test_the_key_is_administered_by_the_account_and_used_only_by_the_two_roles(translated):
    key = resources(translated, "AWS::KMS::Key")["SecretKey"]
    assert key["Condition"] == "CreateSecret" and key["Properties"]["EnableKeyRotation"] is True
    admin, reader, workloads, writer = key["Properties"]["KeyPolicy"]["Statement"]
    assert admin["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    assert not USAGE & set(admin["Action"]), "the account could grant itself use of the key"
    assert reader["Principal"] == {"AWS": {"Fn::GetAtt": ["SecretFunctionRole", "Arn"]}}
    assert reader["Action"] == "kms:Decrypt"
    assert writer["Principal"] == {"AWS": {"Fn::GetAtt": ["SecureParameterFunctionRole", "Arn"]}}
    assert writer["Action"] == ["kms:Encrypt", "kms:GenerateDataKey"]
    for usage in (reader, writer):
        assert usage["Condition"] == {"StringEquals": {"kms:ViaService": {"Fn::Sub": SSM}}}
    # the EC2/Fargate roles live in nested stacks (naming them would be a cycle): roles under this
    # stack's IAM path may decrypt, through SSM only
    assert workloads["Action"] == "kms:Decrypt"
    assert workloads["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": SSM}},
        "ArnLike": {
            "aws:PrincipalArn": {
                "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-cicd/${AWS::StackName}/*"
            }
        },
    }


def test_the_value_enters_once_as_a_noecho_parameter_and_goes_only_to_the_custom_resource(template):
    parameter = template["Parameters"]["SecretValue"]
    assert parameter["NoEcho"] is True and parameter["Default"] == ""
    uses = []
    for section in ("Resources", "Outputs", "Globals", "Conditions"):
        for name, node in template.get(section, {}).items():
            for found in walk(node):
                if found == {"Ref": "SecretValue"} or (isinstance(found, str) and "${SecretValue}" in found):
                    uses.append((section, name))
    assert sorted(uses) == [("Conditions", "CreateSecret"), ("Resources", "SecretParameter")]
    assert template["Resources"]["SecretParameter"]["Properties"]["Value"] == {"Ref": "SecretValue"}
    assert "SecretValue" not in (ROOT / "samconfig.toml").read_text()
    assert "SecretValue" not in (ROOT / "buildspec.yml").read_text()


def test_the_custom_resource_cannot_hang_the_stack(template):
    resource = template["Resources"]["SecretParameter"]["Properties"]
    writer = template["Resources"]["SecureParameterFunction"]["Properties"]
    assert writer["Timeout"] < resource["ServiceTimeout"] <= 600


def _dependencies(node):
    for found in walk(node):
        if isinstance(found, dict):
            if "Ref" in found and isinstance(found["Ref"], str):
                yield found["Ref"]
            if "Fn::GetAtt" in found:
                target = found["Fn::GetAtt"]
                yield (target[0] if isinstance(target, list) else target.split(".")[0])
            if "Fn::Sub" in found:
                text = found["Fn::Sub"] if isinstance(found["Fn::Sub"], str) else found["Fn::Sub"][0]
                yield from (name.split(".")[0] for name in re.findall(r"\$\{([^!}][^}]*)\}", text))


def test_the_translated_template_has_no_dependency_cycle(any_translated):
    names = set(any_translated["Resources"])
    graph = {}
    for name, resource in any_translated["Resources"].items():
        edges = {d for d in _dependencies(resource) if d in names}
        depends = resource.get("DependsOn", [])
        edges |= set(depends if isinstance(depends, list) else [depends])
        graph[name] = edges - {name}
    visiting, done = set(), set()

    def visit(name, path):
        assert name not in visiting, f"dependency cycle: {' -> '.join([*path, name])}"
        if name in done:
            return
        visiting.add(name)
        for target in graph[name]:
            visit(target, [*path, name])
        visiting.discard(name)
        done.add(name)

    for name in graph:
        visit(name, [])


def test_every_alarm_notifies_the_encrypted_topic(any_translated):
    (topic,) = resources(any_translated, "AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"] == {"Ref": "MonitoringKey"}
    key = resources(any_translated, "AWS::KMS::Key")["MonitoringKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    for name, alarm in resources(any_translated, "AWS::CloudWatch::Alarm").items():
        assert {"Ref": "AlarmTopic"} in alarm["Properties"]["AlarmActions"], name


@pytest.mark.parametrize("output", ["ApiUrl", "DashboardUrl", "AlarmTopicArn"])
def test_outputs(output):
    assert output in load_template()["Outputs"]


def test_sleep_limits_fit_inside_api_gateway_and_the_function(template):
    from simple_api.settings import API_GATEWAY_LIMIT_SECONDS

    parameters = template["Parameters"]
    longest = parameters["MaxSleepSeconds"]["MaxValue"]
    sleep = template["Resources"]["SleepFunction"]["Properties"]
    assert parameters["MaxSleepSeconds"]["Default"] <= longest < sleep["Timeout"] < API_GATEWAY_LIMIT_SECONDS
    assert sleep["Environment"]["Variables"]["MAX_SLEEP_SECONDS"] == {"Ref": "MaxSleepSeconds"}
    assert parameters["SleepLatencyP95ThresholdMs"]["Default"] > longest * 1000
    assert parameters["SleepLatencyP95ThresholdMs"]["Default"] < sleep["Timeout"] * 1000


def test_no_secret_value_in_any_template_or_samconfig():
    text = (ROOT / "template.yaml").read_text() + (ROOT / "samconfig.toml").read_text()
    for forbidden in ("PlainText", "mysecretonaws", "GiveMeYourSecret"):
        assert forbidden not in text
    for name, parameter in load_template()["Parameters"].items():
        if parameter.get("NoEcho"):
            assert parameter.get("Default", "") == "", f"{name}: a NoEcho parameter with a default"


def test_the_cycle_check_can_fail():
    looped = {
        "Resources": {
            "A": {"Type": "T", "Properties": {"X": {"Ref": "B"}}},
            "B": {"Type": "T", "Properties": {"Y": {"Fn::Sub": "${A.Arn}"}}},
        }
    }
    with pytest.raises(AssertionError, match="dependency cycle"):
        test_the_translated_template_has_no_dependency_cycle(looped)


def test_the_secret_function_waits_for_the_custom_resource(template):
    variables = template["Resources"]["SecretFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["SECRET_PARAMETER_NAME"] == {"Ref": "SecretParameterName"}  # resolvable by sam local too
    assert variables["SECRET_PARAMETER_OWNER"] == {"Fn::If": ["CreateSecret", {"Ref": "SecretParameter"}, "external"]}
