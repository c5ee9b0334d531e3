"""The Chalice flavour's SAM template: what `chalice package` + the merge template + the alias rewrite
make, held against template.yaml so the two flavours cannot drift, and its translation checked where
the guarded delivery shows: API Gateway calls the live alias, and only the alias may be invoked."""

import copy
import json
import subprocess
import sys
import zipfile
from typing import Any

import pytest
import yaml

from host.template import read_api
from scripts import chalice_package
from scripts.chalice_local import stage_environment
from tests.factories import ROOT
from tests.templates.conftest import BUILD, ENVIRONMENTS, SOURCES, load_template, load_translated, resources
from tests.templates.test_policies import statements

PACKAGE = BUILD / "chalice" / "package"
#: read by no code; they only order the SAM stack's custom resource and the separate decrypt policy
#: before the function's version (the Chalice role's policies are inline: created with the role)
SAM_ONLY_VARIABLES = {"SECRET_PARAMETER_OWNER", "SECRET_KEY_GRANT"}
#: what differs between the flavours' declarations on purpose: the words, not the rules
WORDS = {"Description", "ConstraintDescription", "AlarmDescription"}


def chalice() -> dict[str, Any]:
    return load_template(SOURCES["chalice"])


def sam() -> dict[str, Any]:
    return load_template(SOURCES["sam"])


def chalice_output() -> dict[str, Any]:
    """What `chalice package --merge-template` wrote, before the alias rewrite."""
    path = PACKAGE / "sam.yaml"
    if not path.exists():
        pytest.fail(f"{path} is missing: `make chalice-package` writes it (make test runs it first)")
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def without_words(node):
    if isinstance(node, dict):
        return {key: without_words(value) for key, value in node.items() if key not in WORDS}
    if isinstance(node, list):
        return [without_words(value) for value in node]
    return node


def renamed(node, old: str, new: str):
    return json.loads(json.dumps(node).replace(old, new))


def test_shared_parameters_have_template_yamls_types_defaults_and_constraints():
    parameters = chalice()["Parameters"]
    assert set(parameters) <= set(sam()["Parameters"])
    for name, declared in parameters.items():
        assert without_words(declared) == without_words(sam()["Parameters"][name]), name


def test_the_function_gets_exactly_the_environment_the_sam_functions_get():
    """Globals + every API function's own variables of template.yaml, value for value (Refs included)."""
    expected = dict(sam()["Globals"]["Function"]["Environment"]["Variables"])
    for name in ("HomeFunction", "HealthcheckFunction", "SleepFunction", "SecretFunction"):
        expected.update(sam()["Resources"][name]["Properties"].get("Environment", {}).get("Variables", {}))
    variables = chalice()["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables == {key: value for key, value in expected.items() if key not in SAM_ONLY_VARIABLES}


def test_chalice_locals_stage_environment_is_what_template_yaml_gives_locally():
    """.chalice/config.json (chalice local, chalice.test) = template.yaml's defaults, resolved as sam local does."""
    resolved = {}
    for function in read_api(ROOT / "template.yaml").functions.values():
        resolved.update(function.environment)
    expected = {key: value for key, value in resolved.items() if key not in SAM_ONLY_VARIABLES}
    assert stage_environment() == expected
    # and each of them reaches the deployed function from the template, not from config.json
    deployed = chalice()["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert set(stage_environment()) == set(deployed)


def test_the_api_stage_is_configured_as_template_yamls():
    ours, theirs = chalice()["Resources"]["RestAPI"]["Properties"], sam()["Resources"]["Api"]["Properties"]
    keys = ("Name", "Description", "StageName", "EndpointConfiguration", "TracingEnabled", "MethodSettings")
    for key in (*keys, "GatewayResponses"):
        assert ours[key] == theirs[key], key
    assert ours["AccessLogSetting"] == theirs["AccessLogSetting"]
    assert chalice()["Resources"]["RestAPI"]["Metadata"] == sam()["Resources"]["Api"]["Metadata"]


@pytest.mark.parametrize("kind", ["ErrorsAlarm", "LatencyAlarm"])
def test_the_rollback_alarms_are_the_sleep_functions_for_the_one_function(kind):
    """One function serves /sleep too, so its alarms are SleepFunction's, threshold included."""
    ours = chalice()["Resources"][f"APIHandler{kind}"]
    theirs = renamed(sam()["Resources"][f"Sleep{kind}"], "SleepFunction", "APIHandler")
    assert without_words(ours) == without_words(theirs)


def test_the_function_is_configured_as_template_yamls_sleep_function():
    ours = chalice()["Resources"]["APIHandler"]["Properties"]
    globals_ = sam()["Globals"]["Function"]
    sleep = {**globals_, **sam()["Resources"]["SleepFunction"]["Properties"]}
    for key in ("Runtime", "Architectures", "MemorySize", "Timeout", "Tracing", "Layers", "AutoPublishAlias"):
        assert ours[key] == sleep[key], key
    assert ours["AutoPublishAliasAllProperties"] is True
    assert chalice()["Resources"]["SharedLayer"]["Properties"] == {
        **sam()["Resources"]["SharedLayer"]["Properties"],
        "ContentUri": "../../../layers/shared",  # relative to .aws-sam/chalice/package/
    }
    # the same checks skipped, for the same reasons, but the concurrency bound: one function serves
    # every route; its code is Chalice's deployment.zip (no Makefile build)
    ours_skipped = {
        skip["id"]: skip["comment"] for skip in chalice()["Resources"]["APIHandler"]["Metadata"]["checkov"]["skip"]
    }
    theirs = sam()["Resources"]["SleepFunction"]["Metadata"]
    theirs_skipped = {skip["id"]: skip["comment"] for skip in theirs["checkov"]["skip"]}
    assert set(ours_skipped) == set(theirs_skipped)
    assert {k: v for k, v in ours_skipped.items() if k != "CKV_AWS_115"} == {
        k: v for k, v in theirs_skipped.items() if k != "CKV_AWS_115"
    }
    assert set(chalice()["Resources"]["APIHandler"]["Metadata"]) == {"checkov"}


def test_only_the_function_reads_the_secret_and_only_that_parameter():
    readers = {}
    for name, role in resources(chalice(), "AWS::IAM::Role").items():
        for statement in statements(role):
            actions = statement.get("Action", [])
            if {"ssm:GetParameter", "kms:Decrypt"} & set(actions if isinstance(actions, list) else [actions]):
                readers.setdefault(name, []).append(statement)
    assert set(readers) == {"DefaultRole"}
    get, decrypt = readers["DefaultRole"]
    (sam_get,) = sam()["Resources"]["SecretFunction"]["Properties"]["Policies"][0]["Statement"]
    assert get == sam_get
    ssm = {"Fn::Sub": "ssm.${AWS::Region}.${AWS::URLSuffix}"}
    assert (decrypt["Action"], decrypt["Condition"]) == ("kms:Decrypt", {"StringEquals": {"kms:ViaService": ssm}})
    # the role sits under the stack's path, as the EC2 and Fargate roles do
    assert chalice()["Resources"]["DefaultRole"]["Properties"]["Path"] == {"Fn::Sub": "/aws-cicd/${AWS::StackName}/"}


def test_the_deployment_package_is_pure_python_so_any_architecture_runs_it():
    with zipfile.ZipFile(PACKAGE / "deployment.zip") as package:
        names = set(package.namelist())
    assert names == {"app.py", "chalice/__init__.py", "chalice/app.py"}
    requirements = (ROOT / "chalice_app" / "requirements.txt").read_text().splitlines()
    assert [line for line in requirements if line.strip() and not line.startswith("#")] == []


# ---------------------------------------------------------------- the alias rewrite


def test_chalice_itself_wires_every_route_to_latest():
    """Why the rewrite exists: what Chalice writes calls the unversioned function."""
    uris = [integration["uri"] for _, integration in chalice_package.integrations(chalice_output())]
    assert uris and all(uri == chalice_package.CHALICE_URI for uri in uris)


def test_the_rewrite_points_every_route_at_the_alias():
    template = chalice_output()
    count = chalice_package.call_the_alias(template)
    assert count == len(chalice_package.integrations(template)) == 4
    assert all(i["uri"] == chalice_package.alias_uri() for _, i in chalice_package.integrations(template))
    assert template == chalice(), "the packaged template is not the rewrite of Chalice's: run make chalice-package"


@pytest.mark.parametrize(
    "breakage",
    ["another uri", "no alias", "permission on the function", "no routes", "not chalice"],
)
def test_the_rewrite_refuses_what_it_does_not_recognise(breakage):
    template = copy.deepcopy(chalice_output())
    body = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    if breakage == "another uri":
        body["paths"]["/"]["get"]["x-amazon-apigateway-integration"]["uri"] = {"Fn::GetAtt": ["Other", "Arn"]}
    elif breakage == "no alias":
        del template["Resources"]["APIHandler"]["Properties"]["AutoPublishAlias"]
    elif breakage == "permission on the function":
        template["Resources"]["APIHandlerInvokePermission"]["Properties"]["FunctionName"] = {"Ref": "APIHandler"}
    elif breakage == "no routes":
        body["paths"] = {}
    else:
        del template["Resources"]["RestAPI"]
    with pytest.raises(chalice_package.NotAChaliceTemplate):
        chalice_package.call_the_alias(template)


def test_cors_preflights_are_left_to_api_gateway():
    template = copy.deepcopy(chalice_output())
    paths = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    paths["/"]["options"] = {"x-amazon-apigateway-integration": {"type": "mock"}}
    assert chalice_package.call_the_alias(template) == 4
    assert paths["/"]["options"]["x-amazon-apigateway-integration"] == {"type": "mock"}


def test_the_command_writes_the_rewrite_and_fails_loudly(tmp_path, capsys):
    target = tmp_path / "template.yaml"
    assert chalice_package.main(str(PACKAGE / "sam.yaml"), str(target)) == 0
    assert yaml.safe_load(target.read_text()) == chalice()
    assert "&id" not in target.read_text()  # no YAML anchors: SAM and cfn-lint read it as written
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({"Resources": {}}))
    assert chalice_package.main(str(broken), str(tmp_path / "out.yaml")) == 1
    assert "publishes no 'live' alias" in capsys.readouterr().err
    assert not (tmp_path / "out.yaml").exists()


# ---------------------------------------------------------------- what SAM makes of it


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_translated_api_calls_the_live_alias_and_only_the_alias_may_be_invoked(env):
    translated = load_translated(f"chalice-{env}")
    (alias,) = resources(translated, "AWS::Lambda::Alias")
    assert alias == "APIHandlerAliaslive"
    assert translated["Resources"][alias]["Properties"]["Name"] == "live"
    (api,) = resources(translated, "AWS::ApiGateway::RestApi").values()
    operations = [op for ops in api["Properties"]["Body"]["paths"].values() for op in ops.values()]
    assert len(operations) == 4
    for operation in operations:
        uri = operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        assert uri[0].endswith("/functions/${LiveAlias}/invocations")
        assert uri[1] == {"LiveAlias": {"Ref": alias}}
    assert "APIHandler.Arn" not in json.dumps(api)
    (permission,) = resources(translated, "AWS::Lambda::Permission").values()
    assert permission["Properties"]["FunctionName"] == {"Ref": alias}
    assert permission["Properties"]["SourceArn"]["Fn::Sub"][1] == {"RestAPIId": {"Ref": "RestAPI"}}


RUN_AS_LAMBDA = """
import json, sys, time
from pathlib import Path
from types import SimpleNamespace
from app import app  # the handler the template names: app.app
time.sleep = lambda seconds: None  # the sleep fixtures answer at once
context = SimpleNamespace(function_name="APIHandler", function_version="3", memory_limit_in_mb=256,
                          invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:APIHandler:live",
                          aws_request_id="c6af9ac6-7b61-11e6-9a41-93e8deadbeef")
events = Path(sys.argv[1])
table = json.loads((events / "expected.json").read_text())
statuses = {}
for fixture, expected in table.items():
    if not fixture.startswith("_") and not expected.get("needs"):
        statuses[fixture] = [app(json.loads((events / fixture).read_text()), context)["statusCode"], expected["status"]]
print(json.dumps(statuses))
"""


def test_the_built_function_runs_from_its_package_and_the_layer_alone(tmp_path):
    """What Lambda loads: deployment.zip at the root, the built layer's python/ folder, the standard
    library, nothing from this checkout or its virtualenv (-I -S)."""
    code = tmp_path / "task"
    with zipfile.ZipFile(PACKAGE / "deployment.zip") as package:
        package.extractall(code)
    layer = BUILD / "chalice" / "build" / "SharedLayer" / "python"
    assert layer.is_dir(), "make chalice-package builds the layer"
    script = f"import sys; sys.path[:0] = [{str(code)!r}, {str(layer)!r}]\n" + RUN_AS_LAMBDA
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script, str(ROOT / "events")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**stage_environment(), "AWS_DEFAULT_REGION": "us-east-1"},  # the function's variables (tested above)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    statuses = json.loads(result.stdout.splitlines()[-1])
    assert len(statuses) == 8
    assert all(got == expected for got, expected in statuses.values()), statuses
