"""House policies no linter enforces: least privilege, log retention, encryption, alarm routing."""

import json

import pytest

from tests.factories import ROOT
from tests.templates.conftest import load_template, resources, walk

TEMPLATES = ["template.yaml", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "infra").glob("*.yaml"))]


def every_template(translated):
    return [load_template(path) for path in TEMPLATES] + [translated]


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
        problems += [json.dumps(statement) for action in actions if action == "*"]
        if isinstance(statement, dict) and "NotAction" in statement and statement.get("Effect") == "Allow":
            problems.append(json.dumps(statement))
    return problems


def test_no_administrator_access_anywhere(translated):
    for document in every_template(translated):
        assert "AdministratorAccess" not in json.dumps(document)
        assert "PowerUserAccess" not in json.dumps(document)


def test_no_wildcard_action_anywhere(translated):
    for document in every_template(translated):
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


def test_no_public_principal(translated):
    for document in every_template(translated):
        for statement in statements(document):
            assert statement.get("Principal") not in ("*", {"AWS": "*"}), statement


def test_every_log_group_keeps_logs_for_a_bounded_time_and_is_encrypted(translated):
    for document in every_template(translated):
        for name, group in resources(document, "AWS::Logs::LogGroup").items():
            assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
            assert "KmsKeyId" in group["Properties"], name


def test_every_function_logs_to_a_log_group_of_this_stack(translated):
    groups = resources(translated, "AWS::Logs::LogGroup")
    for name, function in resources(translated, "AWS::Lambda::Function").items():
        target = function["Properties"]["LoggingConfig"]["LogGroup"]
        assert target.get("Ref") in groups, name


def test_the_secret_is_readable_by_exactly_one_function_and_one_parameter(translated):
    readers = {}
    for name, role in resources(translated, "AWS::IAM::Role").items():
        for statement in statements(role):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a.startswith("ssm:") or a.startswith("kms:Decrypt") for a in actions):
                readers.setdefault(name, []).append(statement)
    assert set(readers) == {"SecretFunctionRole"}
    get, decrypt = readers["SecretFunctionRole"][0], None
    assert get["Action"] == "ssm:GetParameter"
    assert get["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SecretParameterName}"
    }
    policy = json.dumps(resources(translated, "AWS::IAM::Role")["SecretFunctionRole"])
    decrypt = '"kms:ViaService": {"Fn::Sub": "ssm.${AWS::Region}.${AWS::URLSuffix}"}'
    assert decrypt in policy and '"Resource": {"Ref": "SecretKeyArn"}' in policy


def test_every_alarm_notifies_the_encrypted_topic(translated):
    (topic,) = resources(translated, "AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"] == {"Ref": "MonitoringKey"}
    key = resources(translated, "AWS::KMS::Key")["MonitoringKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    for name, alarm in resources(translated, "AWS::CloudWatch::Alarm").items():
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
    for forbidden in ("NoEcho: false", "SecretValue", "PlainText", "mysecretonaws"):
        assert forbidden not in text
