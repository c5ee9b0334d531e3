"""The API stage canary as SAM translates it (docs/api-canary.md, decisions 180-186).

With EnableApiCanary off (dev) there is no canary anywhere and nothing else differs; with it on
(prod) a change of the API definition makes CloudFormation run ApiStageCanary before the stage
moves, and the stage's main deployment stays the previous one while the canary carries the new
one. That last claim is checked on CloudFormation's plan: the translated templates before and
after a change, the resources to update in their dependency order, and the canary service itself
run at its step against a model of the stage (tests/api_canary_model.py).
"""

import graphlib
import json
import re
import subprocess
from typing import Any

import pytest

from host.template import load
from simple_api.services import api_canary
from simple_api.services.api_canary import StageState
from tests.api_canary_model import Clock, ModelStage
from tests.factories import ROOT
from tests.templates.conftest import (
    BUILD,
    ENVIRONMENTS,
    evaluate,
    load_template,
    load_translated,
    parameter_overrides,
    resources,
    walk,
)
from tests.templates.test_observability_contract import matches

SAM_PYTHON = ROOT / ".tools" / "sam" / "bin" / "python"
CONDITION = "UseApiCanary"


def with_canary(env: str, on: bool) -> dict[str, str]:
    return {**parameter_overrides(env), "EnableApiCanary": "true" if on else "false"}


def present(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The resources a stack gets with these parameters, their properties evaluated."""
    return {
        name: {**resource, "Properties": evaluate(resource.get("Properties", {}), parameters, template)}
        for name, resource in template["Resources"].items()
        if "Condition" not in resource or evaluate({"Condition": resource["Condition"]}, parameters, template)
    }


def canary_pieces() -> set[str]:
    return {name for name, r in load_template()["Resources"].items() if r.get("Condition") == CONDITION}


# ---------------------------------------------------------------- off and on
def test_prod_has_the_canary_and_dev_does_not():
    assert parameter_overrides("dev")["EnableApiCanary"] == "false"
    assert parameter_overrides("prod")["EnableApiCanary"] == "true"
    assert load_template()["Parameters"]["EnableApiCanary"]["Default"] == "false"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_off_there_is_no_canary_anywhere(env):
    translated = load_translated(env)
    stack = present(translated, with_canary(env, on=False))
    assert not [name for name, r in stack.items() if r["Type"] == "Custom::ApiStageCanary"]
    assert not canary_pieces() & set(stack)
    (stage,) = [r["Properties"] for r in stack.values() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert not {"CanarySetting", "Variables", "CacheClusterEnabled"} & set(stage)
    outputs = [name for name, o in translated["Outputs"].items() if o.get("Condition") == CONDITION]
    assert outputs == ["ApiCanaryOutcome", "ApiCanaryRelease"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_turning_it_on_adds_the_canary_pieces_and_changes_nothing_else(env):
    translated = load_translated(env)
    off, on = (present(translated, with_canary(env, on=flag)) for flag in (False, True))
    added = set(on) - set(off)
    assert set(off) <= set(on)
    assert added == canary_pieces() | {"ApiCanaryFunctionRole"}  # SAM's role for the canary function
    changed = {name for name in off if off[name] != on[name]}
    assert changed == {"ApiStage"}
    difference = {
        k
        for k in on["ApiStage"]["Properties"]
        if on["ApiStage"]["Properties"][k] != off["ApiStage"]["Properties"].get(k)
    }
    assert difference == {"CacheClusterEnabled"}
    assert on["ApiStage"]["Properties"]["CacheClusterEnabled"] == {
        "Fn::GetAtt": ["ApiStageCanary", "CacheClusterEnabled"]
    }


SAM_LOCAL_API = """
import json, sys
from samcli.lib.providers.api_provider import ApiProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
stacks, _ = SamLocalStackProvider.get_stacks(sys.argv[1], parameter_overrides=json.loads(sys.argv[2]))
api = ApiProvider(stacks).api
print(json.dumps({"stageVariables": api.stage_variables, "routes": len(api.routes)}))
"""


@pytest.mark.parametrize("flag", ["false", "true"])
def test_sam_local_start_api_sees_the_stage_as_before(flag):
    """The stage's wait on the canary is carried by a property `sam local start-api` does not read
    (SAM CLI's own API provider, as start-api builds it): a stage variable would reach every local
    event unresolved (measured: {"Fn::If": [...]})."""
    result = subprocess.run(
        [
            str(SAM_PYTHON),
            "-c",
            SAM_LOCAL_API,
            str(BUILD / "build" / "template.yaml"),
            json.dumps({"EnableApiCanary": flag}),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == {"stageVariables": None, "routes": 4}


def test_the_template_never_declares_canary_settings():
    """At rest a stage has none: ApiStageCanary adds them for the length of a bake only."""
    api = load_template()["Resources"]["Api"]["Properties"]
    assert "CanarySetting" not in api
    for env in ENVIRONMENTS:
        for stage in resources(load_translated(env), "AWS::ApiGateway::Stage").values():
            assert "CanarySetting" not in stage["Properties"]


# ---------------------------------------------------------------- CloudFormation's plan
def names_in(node: Any) -> set[str]:
    """Every logical id a node refers to (Ref, GetAtt, ${...} in Sub)."""
    found = set()
    for item in walk(node):
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("Ref"), str):
            found.add(item["Ref"].split(".")[0])
        getatt = item.get("Fn::GetAtt")
        if getatt:
            found.add(getatt[0] if isinstance(getatt, list) else getatt.split(".")[0])
        sub = item.get("Fn::Sub")
        if sub:
            text = sub if isinstance(sub, str) else sub[0]
            found |= {name.split(".")[0] for name in re.findall(r"\$\{([^!}][^}]*)\}", text)}
    return found


def dependencies(stack: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """What each resource waits for: every resource it names, and its DependsOn."""
    return {
        name: (names_in(r.get("Properties", {})) | set(r.get("DependsOn", []) or [])) & set(stack)
        for name, r in stack.items()
    }


class Plan:
    """A stack update from ``before`` to ``after``: what CloudFormation creates or updates (and in
    what order it must), and what it deletes in the cleanup once the update succeeded."""

    def __init__(self, before: dict[str, Any], after: dict[str, Any], parameters: dict[str, str]) -> None:
        self.before, self.after = present(before, parameters), present(after, parameters)
        self.changed = {n for n in self.after if n not in self.before or self.after[n] != self.before[n]}
        self.removed = set(self.before) - set(self.after)
        waits = dependencies(self.after)
        self.waits = {name: waits[name] & self.changed for name in self.changed}
        self.order = list(graphlib.TopologicalSorter(self.waits).static_order())

    def first(self, earlier: str, later: str) -> bool:
        """Whether CloudFormation must finish ``earlier`` before it starts ``later``."""
        seen, todo = set(), [later]
        while todo:
            for name in self.waits.get(todo.pop(), ()):
                if name not in seen:
                    seen.add(name)
                    todo.append(name)
        return earlier in seen

    def deployments(self) -> tuple[str, str]:
        (old,) = [n for n in self.removed if self.before[n]["Type"] == "AWS::ApiGateway::Deployment"]
        (new,) = [n for n in self.changed if self.after[n]["Type"] == "AWS::ApiGateway::Deployment"]
        return old, new


def physical(node: Any) -> Any:
    """Refs to resources as their logical ids: the model's stand-in for physical ids."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and isinstance(node["Ref"], str):
            return node["Ref"]
        return {key: physical(value) for key, value in node.items()}
    if isinstance(node, list):
        return [physical(value) for value in node]
    return node


class Quiet:
    def firing(self, names: Any) -> list[api_canary.Firing]:
        return []


def simulate(plan: Plan) -> ModelStage:
    """Walk the plan with a stage on the old deployment: the canary runs at its step, the stage
    resource moves the main deployment at its own; the cleanup may delete only unused deployments."""
    old, new = plan.deployments()
    stage = ModelStage(StageState(old), {old: 1.0})
    for name in plan.order:
        resource = plan.after[name]
        if name == new:
            stage.made[new] = 2.0
        elif resource["Type"] == "Custom::ApiStageCanary":
            wanted = api_canary.parse(physical(resource["Properties"]))
            api_canary.release(wanted, stage, api_canary.Watch(Quiet(), Clock()), budget_seconds=880)
        elif resource["Type"] == "AWS::ApiGateway::Stage":
            target = physical(resource["Properties"]["DeploymentId"])
            assert stage.state is not None and stage.state.deployment_id == target, "the canary promoted it first"
            stage.restore(target)
    for state in stage.history[-1:]:
        assert state is not None and old not in (state.deployment_id, state.canary_deployment_id), "cleanup"
    return stage


def changed_copy(kind: str) -> dict[str, Any]:
    """The built template with a change of the API definition, of one function's code, or both."""
    template = load(BUILD / "build" / "template.yaml")
    if kind in ("definition", "both"):
        response = template["Resources"]["Api"]["Properties"]["GatewayResponses"]["MISSING_AUTHENTICATION_TOKEN"]
        response["ResponseTemplates"]["application/json"] = '{"error":"NotFound","message":"no such route"}'
    if kind in ("code", "both"):
        template["Resources"]["HomeFunction"]["Properties"]["Description"] = "GET / (changed)"
    return template


@pytest.fixture(scope="module")
def changes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The three changed templates translated as `make translate` does prod (one translator start-up)."""
    if not SAM_PYTHON.exists():
        pytest.fail(f"{SAM_PYTHON} is missing: `make install` installs SAM's environment")
    scratch = tmp_path_factory.mktemp("api-canary-plans")
    targets = {kind: scratch / f"{kind}-translated.json" for kind in ("definition", "code", "both")}
    batch = []
    for kind, target in targets.items():
        source = scratch / f"{kind}.json"
        source.write_text(json.dumps(changed_copy(kind)))
        batch.append({"source": str(source), "parameters": parameter_overrides("prod"), "target": str(target)})
    result = subprocess.run(
        [str(SAM_PYTHON), str(ROOT / "scripts" / "translate.py"), "--batch"],
        cwd=ROOT,
        input=json.dumps(batch),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin", "SAM_CLI_TELEMETRY": "0"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return {kind: json.loads(target.read_text()) for kind, target in targets.items()}


def plan_of(changes: dict[str, dict[str, Any]], kind: str) -> Plan:
    return Plan(load_translated("prod"), changes[kind], parameter_overrides("prod"))


def test_a_definition_change_reaches_the_canary_first_and_the_main_stage_keeps_the_previous_deployment(changes):
    plan = plan_of(changes, "definition")
    old, new = plan.deployments()
    assert plan.first(new, "ApiStageCanary") and plan.first("ApiStageCanary", "ApiStage")
    stage = simulate(plan)
    assert stage.history[0] == StageState(old, canary_deployment_id=new, canary_percent=10.0)
    assert stage.state == StageState(new)
    assert old in plan.removed  # deleted in the cleanup, once nothing points at it


def test_code_and_definition_in_one_release_shift_the_code_first_then_canary_the_definition(changes):
    plan = plan_of(changes, "both")
    old, new = plan.deployments()
    # the API definition names the live alias, so CodeDeploy's shift (the alias update) ends first
    assert plan.first("HomeFunctionAliaslive", "Api") and plan.first("Api", new)
    assert plan.first(new, "ApiStageCanary") and plan.first("ApiStageCanary", "ApiStage")
    assert simulate(plan).history[0] == StageState(old, canary_deployment_id=new, canary_percent=10.0)


def test_a_code_only_release_leaves_the_api_canary_out(changes):
    plan = plan_of(changes, "code")
    assert "HomeFunctionAliaslive" in plan.changed
    assert not plan.removed & {n for n, r in plan.before.items() if r["Type"] == "AWS::ApiGateway::Deployment"}
    assert not {"Api", "ApiStage", "ApiStageCanary"} & plan.changed


# ---------------------------------------------------------------- canary-only alarms
CONTEXT = {
    "requestId": "c0ffee",
    "identity.sourceIp": "203.0.113.7",
    "httpMethod": "GET",
    "path": "/prod/sleep/1",
    "resourcePath": "/sleep/{seconds}",
    "responseLatency": "12",
    "integrationLatency": "10",
    "error.responseType": "-",
    "identity.userAgent": "curl/8",
}


def access_line(stack: dict[str, Any], status: str, canary: bool) -> dict[str, Any]:
    """The stage's access log line for one request, as API Gateway fills its format."""
    form = stack["ApiStage"]["Properties"]["AccessLogSetting"]["Format"]
    values = {**CONTEXT, "status": status, "isCanaryRequest": "true" if canary else "false"}
    line = re.sub(r"\$context\.([A-Za-z.]+)", lambda m: values[m.group(1)], form)
    return dict(json.loads(line))


def test_the_canary_alarms_count_canary_requests_alone_and_compare_them_with_the_main_stage():
    translated = load_translated("prod")
    stack = present(translated, with_canary("prod", on=True))
    properties = stack["ApiStageCanary"]["Properties"]
    assert properties["Alarms"] == [{"Ref": "ApiCanaryServerErrorsAlarm"}, {"Ref": "ApiCanaryClientErrorsAlarm"}]
    assert stack["ApiCanaryAccessLogGroup"]["Properties"]["LogGroupName"] == {"Fn::Sub": "${ApiAccessLogGroup}/Canary"}
    filters = {
        r["Properties"]["MetricTransformations"][0]["MetricName"]: r["Properties"]
        for r in stack.values()
        if r["Type"] == "AWS::Logs::MetricFilter" and r.get("Condition") == CONDITION
    }
    lines = {
        (status, canary): access_line(stack, status, canary)
        for status in ("200", "404", "502")
        for canary in (True, False)
    }
    counted = {
        name: {key for key, line in lines.items() if matches(f["FilterPattern"], line)} for name, f in filters.items()
    }
    assert counted == {
        "CanaryRequests": {("200", True), ("404", True), ("502", True)},
        "CanaryServerErrors": {("502", True)},
        "CanaryClientErrors": {("404", True)},
        "MainRequests": {("200", False), ("404", False), ("502", False)},
        "MainClientErrors": {("404", False)},
    }
    for name, f in filters.items():
        group = "ApiCanaryAccessLogGroup" if name.startswith("Canary") else "ApiAccessLogGroup"
        assert f["LogGroupName"] == {"Ref": group}, name
    server = stack["ApiCanaryServerErrorsAlarm"]["Properties"]
    assert (server["MetricName"], server["Namespace"]) == (
        "CanaryServerErrors",
        {"Fn::Sub": "AwsCicd/${AWS::StackName}/ApiCanary"},
    )
    client = stack["ApiCanaryClientErrorsAlarm"]["Properties"]["Metrics"]
    read = {m["MetricStat"]["Metric"]["MetricName"] for m in client if "MetricStat" in m}
    assert read == {"CanaryRequests", "CanaryClientErrors", "MainRequests", "MainClientErrors"}
    for alarm in ("ApiCanaryServerErrorsAlarm", "ApiCanaryClientErrorsAlarm"):
        name = stack[alarm]["Properties"]["AlarmName"]["Fn::Sub"]
        assert name.startswith("${AWS::StackName}-api-canary-"), alarm  # what the canary function may read


def test_the_canary_function_may_move_only_this_stage_and_read_only_its_alarms():
    function = load_template()["Resources"]["ApiCanaryFunction"]["Properties"]
    statements = {s["Sid"]: s for s in function["Policies"][0]["Statement"]}
    assert statements["ReadAndMoveTheStage"]["Action"] == ["apigateway:GET", "apigateway:PATCH"]
    assert statements["ReadAndMoveTheStage"]["Resource"]["Fn::Sub"].endswith("::/restapis/${Api}/stages/${Environment}")
    assert statements["ReadWhenEachDeploymentWasMade"]["Action"] == "apigateway:GET"
    assert statements["WatchTheCanaryAlarms"]["Resource"]["Fn::Sub"].endswith(":alarm:${AWS::StackName}-api-canary-*")


def test_the_parameters_bounds_are_the_services():
    parameters = load_template()["Parameters"]
    assert parameters["ApiCanaryBakeSeconds"]["MaxValue"] == api_canary.MAX_BAKE_SECONDS
    assert parameters["ApiCanaryPercent"]["MaxValue"] == api_canary.MAX_PERCENT
    assert parameters["ApiCanaryPercent"]["MinValue"] > 0 and parameters["ApiCanaryBakeSeconds"]["MinValue"] > 0
    function = load_template()["Resources"]["ApiCanaryFunction"]["Properties"]
    canary = load_template()["Resources"]["ApiStageCanary"]["Properties"]
    assert function["Timeout"] == 900 and canary["ServiceTimeout"] > function["Timeout"]
