"""The Synthetics canary: its inline script walks the contract against the real host here, fails on
a broken or unreachable API, and its alarm is the one the pipeline waits on before prod."""

import json
import types

import pytest

from host.local import free_port, running
from tests.factories import ROOT
from tests.templates.conftest import evaluate, load_template


def canary():
    return load_template()["Resources"]["ContractCanary"]


def script_module():
    module = types.ModuleType("contract_walk")
    source = canary()["Properties"]["Code"]["Script"]
    exec(compile(source, "contract_walk.py", "exec"), module.__dict__)
    return module


@pytest.fixture(scope="module")
def api():
    with running(free_port(), free_port(), quiet=True) as local:
        yield local.url


def test_the_script_walks_the_contract_and_passes_on_a_healthy_api(api, monkeypatch, capsys):
    monkeypatch.setenv("API_URL", api + "/")
    assert script_module().handler({}, None) == "contract ok"
    printed = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in printed] == ["/", "/healthcheck", "/sleep/1", "/sleep/hello", "/secret"]
    assert all(line.endswith(" ok") for line in printed)


def test_the_script_fails_when_the_contract_breaks(api, monkeypatch):
    monkeypatch.setenv("API_URL", api + "/not-the-api")  # every route answers 404
    with pytest.raises(RuntimeError, match=r"contract broken: / answered 404, expected 200"):
        script_module().handler({}, None)


def test_the_script_fails_when_the_api_is_unreachable(monkeypatch):
    monkeypatch.setenv("API_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(RuntimeError, match="/healthcheck answered None"):
        script_module().handler({}, None)


def test_the_checks_agree_with_the_documented_answers():
    expected = json.loads((ROOT / "events" / "expected.json").read_text())
    checks = {path: (status, wanted) for path, status, wanted in script_module().CHECKS}
    assert checks["/"] == (200, expected["home_get.json"]["body"])
    assert checks["/healthcheck"] == (200, expected["healthcheck_get.json"]["body"])
    assert checks["/sleep/1"] == (200, expected["sleep_ok.json"]["body"])
    assert checks["/sleep/hello"] == (400, tuple(expected["sleep_hello.json"]["json_keys"]))
    assert checks["/secret"] == (200, tuple(expected["secret_get.json"]["json_keys"]))


def test_the_canary_runs_only_with_a_results_bucket_against_the_api_url():
    template = load_template()
    assert canary()["Condition"] == "HasSynthetics"
    assert evaluate(template["Conditions"]["HasSynthetics"], {}, template) is False  # laptop deploys: none
    properties = canary()["Properties"]
    api_url = template["Outputs"]["ApiUrl"]["Value"]
    assert properties["RunConfig"]["EnvironmentVariables"]["API_URL"] == api_url
    assert properties["ProvisionedResourceCleanup"] == "AUTOMATIC"  # its function and layer go with the stack
    assert properties["Name"] == {"Ref": "AWS::StackName"}


def test_its_alarm_notifies_the_topic_and_is_the_one_the_pipeline_waits_on():
    alarm = load_template()["Resources"]["SyntheticsAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"]) == (
        "CloudWatchSynthetics",
        "SuccessPercent",
        100,
    )
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert alarm["AlarmName"] == {"Fn::Sub": "${AWS::StackName}-synthetics"}
    pipeline = load_template("infra/pipeline.yaml")
    (stage,) = [s for s in pipeline["Resources"]["Pipeline"]["Properties"]["Stages"] if s.get("Name") == "ApproveProd"]
    (condition,) = stage["BeforeEntry"]["Conditions"]
    (rule,) = condition["Rules"]
    assert condition["Result"] == "FAIL"
    assert rule["RuleTypeId"] == {"Category": "Rule", "Owner": "AWS", "Provider": "CloudWatchAlarm", "Version": "1"}
    # the dev stack is <prefix>-dev, so its alarm is <prefix>-dev-synthetics
    assert rule["Configuration"]["AlarmName"] == {"Fn::Sub": "${StackPrefix}-dev-synthetics"}
    assert int(rule["Configuration"]["WaitTime"]) >= 10  # at least two runs at the default schedule


def test_the_pipeline_gives_both_environments_its_bucket_and_key():
    pipeline = load_template("infra/pipeline.yaml")
    for stage in pipeline["Resources"]["Pipeline"]["Properties"]["Stages"]:
        for action in stage.get("Actions", []):
            overrides = action.get("Configuration", {}).get("ParameterOverrides")
            if overrides:
                text = overrides["Fn::Sub"][0]
                assert '"SyntheticsArtifactBucket": "${ArtifactBucket}"' in text
                assert '"SyntheticsArtifactKeyArn": "${PipelineKey.Arn}"' in text


def test_the_canary_role_writes_only_under_its_own_prefix():
    role = load_template()["Resources"]["SyntheticsRole"]["Properties"]
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    (put,) = [s for s in statements if isinstance(s, dict) and s.get("Action") == "s3:PutObject"]
    assert put["Resource"]["Fn::Sub"].endswith("/synthetics/${AWS::StackName}/*")
    (metrics,) = [s for s in statements if isinstance(s, dict) and s.get("Action") == "cloudwatch:PutMetricData"]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "CloudWatchSynthetics"}}
