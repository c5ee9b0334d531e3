"""The host reads routes, environment and gateway responses from template.yaml, as sam local does."""

from pathlib import Path

import pytest

from host.template import Route, Unresolvable, _resolve, load, read_api
from tests.factories import ROOT


def test_routes_are_the_templates_api_events():
    api = read_api(ROOT / "template.yaml")
    assert set(api.routes) == {
        Route("GET", "/", "HomeFunction"),
        Route("GET", "/healthcheck", "HealthcheckFunction"),
        Route("GET", "/sleep/{seconds}", "SleepFunction"),
        Route("GET", "/secret", "SecretFunction"),
    }
    assert "PreTrafficFunction" not in api.functions  # no route, not served
    assert api.stage == "dev"


def test_functions_get_globals_plus_their_own_environment_and_timeout():
    api = read_api(ROOT / "template.yaml", {"MaxSleepSeconds": "3", "ServiceName": "svc"})
    sleep = api.functions["SleepFunction"]
    assert sleep.environment["MAX_SLEEP_SECONDS"] == "3"
    assert sleep.environment["POWERTOOLS_SERVICE_NAME"] == "svc"
    assert "MAX_SLEEP_SECONDS" not in api.functions["HomeFunction"].environment
    assert (sleep.timeout_seconds, sleep.memory_mb) == (28.0, 256)
    assert api.functions["HomeFunction"].timeout_seconds == 10.0
    assert sleep.module == "functions.sleep.handler" and sleep.attribute == "lambda_handler"


def test_gateway_responses_come_from_the_template():
    responses = read_api(ROOT / "template.yaml").gateway_responses
    assert responses["MISSING_AUTHENTICATION_TOKEN"].status == 404


@pytest.mark.parametrize(
    ("node", "value"),
    [
        ({"Ref": "P"}, "p"),
        ({"Ref": "AWS::Region"}, "eu-west-1"),
        ({"Fn::Sub": "a-${P}-${AWS::AccountId}"}, "a-p-123456789012"),
        ("plain", "plain"),
        (3, 3),
        ({"Fn::Sub": "${!Literal}"}, "${Literal}"),
    ],
)
def test_resolves_what_a_local_run_can_know(node, value):
    assert _resolve(node, {"P": "p"}, "eu-west-1") == value


@pytest.mark.parametrize(
    "node", [{"Ref": "SomeResource"}, {"Fn::GetAtt": ["A", "Arn"]}, {"Fn::Sub": "${Fn.Version}"}, {"Fn::If": []}]
)
def test_what_needs_a_deployed_stack_is_unresolvable(node):
    with pytest.raises(Unresolvable):
        _resolve(node, {}, "us-east-1")


def test_unresolvable_variables_are_left_out(tmp_path: Path):
    template = tmp_path / "t.yaml"
    template.write_text(
        "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: functions/f\n"
        "      Handler: handler.h\n      Environment:\n        Variables:\n          A: !GetAtt X.Arn\n"
        "          B: !Sub '${AWS::StackName}-b'\n      Events:\n        E:\n          Type: Api\n"
        "          Properties:\n            Path: /x/{proxy+}\n            Method: any\n"
    )
    api = read_api(template)
    assert api.functions["F"].environment == {"B": "local-b"}
    (route,) = api.routes
    assert route.method == "ANY" and route.pattern().match("/x/a/b")


def test_the_loader_reads_every_short_form_tag(tmp_path: Path):
    path = tmp_path / "t.yaml"
    path.write_text("A: !Ref x\nB: !GetAtt r.Arn\nC: !Sub ['${a}', {a: 1}]\nD: !If [c, {x: 1}, !Ref AWS::NoValue]\n")
    assert load(path) == {
        "A": {"Ref": "x"},
        "B": {"Fn::GetAtt": ["r", "Arn"]},
        "C": {"Fn::Sub": ["${a}", {"a": 1}]},
        "D": {"Fn::If": ["c", {"x": 1}, {"Ref": "AWS::NoValue"}]},
    }


@pytest.mark.parametrize(
    ("parameters", "value"),
    [
        ({"Mode": "a", "Other": "x"}, "first"),
        ({"Mode": "b", "Other": "x"}, "second"),
        ({"Mode": "b", "Other": "y"}, "first"),
    ],
)
def test_conditions_choose_the_branch_as_cloudformation_would(parameters, value):
    conditions = {
        "IsA": {"Fn::Equals": [{"Ref": "Mode"}, "a"]},
        "IsY": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Other"}, "x"]}]},
        "Either": {"Fn::Or": [{"Condition": "IsA"}, {"Fn::And": [{"Condition": "IsY"}]}]},
    }
    node = {"Fn::If": ["Either", "first", {"Fn::If": ["IsA", {"Fn::GetAtt": ["R", "A"]}, "second"]}]}
    assert _resolve(node, parameters, "us-east-1", conditions) == value


def test_the_secret_name_follows_the_template_condition():
    api = read_api(ROOT / "template.yaml")
    environment = api.functions["SecretFunction"].environment
    assert environment["SECRET_PARAMETER_NAME"] == "/simple-api/dev/secret"
    assert environment["SECRET_PARAMETER_OWNER"] == "external"
    assert "SHOW_FULL_SECRET" in environment
    owned = read_api(ROOT / "template.yaml", {"SecretValue": "given"}).functions["SecretFunction"].environment
    assert "SECRET_PARAMETER_OWNER" not in owned  # the custom resource's id: only a deployed stack knows it
    assert owned["SECRET_PARAMETER_NAME"] == "/simple-api/dev/secret"
