"""Every API function deploys through CodeDeploy with alarms on the new version and the PreTraffic hook."""

import copy
import re

import pytest

from tests.factories import EVENTS
from tests.templates.conftest import (
    ENVIRONMENTS,
    SAM_DEPLOYMENT_TYPES,
    SOURCES,
    TRANSLATIONS,
    api_functions,
    environment_of,
    load_template,
    load_translated,
    parameter_overrides,
    resources,
    walk,
)

#: what serves the API in each flavour: a function per route, or Chalice's one function for all
API_FUNCTIONS = {
    "sam": {"HomeFunction", "HealthcheckFunction", "SleepFunction", "SecretFunction"},
    "chalice": {"APIHandler"},
}


def deployment_type_problems(template, overrides_by_env):
    """Deployment types outside what SAM accepts: no linter catches them (e.g. Canary10Percent7Minutes)."""
    problems = []
    parameter = template["Parameters"]["DeploymentType"]
    allowed = set(parameter["AllowedValues"])
    problems += [f"AllowedValues has {t}" for t in sorted(allowed - SAM_DEPLOYMENT_TYPES)]
    if parameter["Default"] not in allowed:
        problems.append(f"Default {parameter['Default']}")
    for env, overrides in overrides_by_env.items():
        if overrides.get("DeploymentType") not in allowed:
            problems.append(f"samconfig {env}: {overrides.get('DeploymentType')}")
    for name, function in api_functions(template).items():
        kind = function["Properties"]["DeploymentPreference"]["Type"]
        if kind != {"Ref": "DeploymentType"} and kind not in SAM_DEPLOYMENT_TYPES:
            problems.append(f"{name}: {kind}")
    return problems


@pytest.mark.parametrize("flavour", SOURCES)
def test_deployment_types_are_from_the_allowed_set(flavour):
    overrides = {env: parameter_overrides(env) for env in ENVIRONMENTS}
    assert deployment_type_problems(load_template(SOURCES[flavour]), overrides) == []


@pytest.mark.parametrize("where", ["allowed", "samconfig", "function"])
def test_the_deployment_type_check_catches_bad_types(template, where):
    broken = copy.deepcopy(template)
    overrides = {env: parameter_overrides(env) for env in ENVIRONMENTS}
    if where == "allowed":
        broken["Parameters"]["DeploymentType"]["AllowedValues"].append("Canary10Percent7Minutes")
    elif where == "samconfig":
        overrides["prod"]["DeploymentType"] = "Canary10Percent7Minutes"
    else:
        broken["Resources"]["HomeFunction"]["Properties"]["DeploymentPreference"]["Type"] = "Linear5PercentEvery1Minute"
    assert deployment_type_problems(broken, overrides)


def test_dev_shifts_all_at_once_and_prod_by_canary():
    assert parameter_overrides("dev")["DeploymentType"] == "AllAtOnce"
    assert re.fullmatch(r"(Canary|Linear)10Percent.*", parameter_overrides("prod")["DeploymentType"])


@pytest.mark.parametrize("flavour", SOURCES)
def test_every_api_function_has_alias_preference_alarms_and_hook(flavour):
    functions = api_functions(load_template(SOURCES[flavour]))
    assert set(functions) == API_FUNCTIONS[flavour]
    for name, function in functions.items():
        properties = function["Properties"]
        assert properties["AutoPublishAlias"] == "live", name
        assert properties["AutoPublishAliasAllProperties"] is True, name
        preference = properties["DeploymentPreference"]
        assert preference["Type"] == {"Ref": "DeploymentType"}, name
        assert preference["Hooks"] == {
            "PreTraffic": {"Ref": "PreTrafficFunction"},
            "PostTraffic": {"Ref": "PostTrafficFunction"},
        }, name
        stem = name.removesuffix("Function")
        assert preference["Alarms"] == [{"Ref": f"{stem}ErrorsAlarm"}, {"Ref": f"{stem}LatencyAlarm"}], name


@pytest.mark.parametrize(
    ("hook", "variable"), [("PreTraffic", "PRE_TRAFFIC_TARGETS"), ("PostTraffic", "POST_TRAFFIC_TARGETS")]
)
def test_the_hooks_have_no_deployment_of_their_own_and_test_every_new_version(template, hook, variable):
    properties = template["Resources"][f"{hook}Function"]["Properties"]
    assert "AutoPublishAlias" not in properties and "DeploymentPreference" not in properties
    targets = properties["Environment"]["Variables"][variable]["Fn::Sub"]
    for name in api_functions(template):
        folder = name.removesuffix("Function").lower()
        assert f"{folder}=${{{name}.Version}}" in targets


def test_the_post_traffic_hook_goes_through_the_alias_the_functions_publish(template):
    properties = template["Resources"]["PostTrafficFunction"]["Properties"]
    alias = properties["Environment"]["Variables"]["TRAFFIC_ALIAS"]
    assert {f["Properties"]["AutoPublishAlias"] for f in api_functions(template).values()} == {alias}
    (invoke,) = [s for s in properties["Policies"][0]["Statement"] if s["Action"] == "lambda:InvokeFunction"]
    assert invoke["Resource"] == [{"Fn::Sub": f"${{{name}.Arn}}:{alias}"} for name in api_functions(template)]


# ---------------------------------------------------------------- what publishes a new version
#: the Lambda::Function properties that make up a published version's configuration
VERSIONED = ("Environment", "MemorySize", "Timeout", "Runtime", "Handler", "Architectures", "Layers")


def referenced(node, template, through_conditions=True):
    """Parameters a property reads, directly or through the Conditions it uses."""
    found = set()
    for item in walk(node):
        if isinstance(item, dict) and set(item) == {"Ref"} and item["Ref"] in template["Parameters"]:
            found.add(item["Ref"])
        if isinstance(item, dict) and set(item) == {"Fn::Sub"}:
            text = item["Fn::Sub"] if isinstance(item["Fn::Sub"], str) else item["Fn::Sub"][0]
            found |= {n for n in re.findall(r"\$\{([^!}.]+)\}", text) if n in template["Parameters"]}
        if through_conditions and isinstance(item, dict) and set(item) == {"Fn::If"}:
            found |= referenced(template["Conditions"][item["Fn::If"][0]], template)
        if through_conditions and isinstance(item, dict) and set(item) == {"Condition"}:
            found |= referenced(template["Conditions"][item["Condition"]], template)
    return found


def versioned_configuration(template, name):
    defaults = template.get("Globals", {}).get("Function", {})
    own = template["Resources"][name]["Properties"]
    merged = {key: own.get(key, defaults.get(key)) for key in VERSIONED if key in own or key in defaults}
    merged["Environment"] = {
        **defaults.get("Environment", {}).get("Variables", {}),
        **own.get("Environment", {}).get("Variables", {}),
    }
    return merged


#: every function behind the live alias, in either flavour
VERSIONED_FUNCTIONS = [
    *(("sam", name) for name in ("HomeFunction", "HealthcheckFunction", "SleepFunction", "SecretFunction")),
    ("chalice", "APIHandler"),
]


@pytest.mark.parametrize("flavour", SOURCES)
def test_a_layer_change_publishes_new_versions(flavour):
    assert load_template(SOURCES[flavour])["Resources"]["SharedLayer"]["Properties"]["PublishLambdaVersion"] is True


@pytest.mark.parametrize(("flavour", "name"), VERSIONED_FUNCTIONS)
def test_each_version_description_names_exactly_the_parameters_that_feed_its_configuration(flavour, name):
    """SAM hashes the function's properties before resolving parameters, so a parameter change would
    publish nothing; the version's description (replaced, so republished, when it changes) names
    each such parameter's value. A secret (NoEcho) parameter only through its condition."""
    template = load_template(SOURCES[flavour])
    description = template["Resources"][name]["Properties"]["VersionDescription"]
    feeding = referenced(versioned_configuration(template, name), template)
    named = referenced(description, template)
    secret = {p for p in feeding if template["Parameters"][p].get("NoEcho")}
    assert named == feeding, f"{name}: missing {feeding - named}, extra {named - feeding}"
    assert not secret & referenced(description, template, through_conditions=False)


def longest(template, parameter):
    """The longest value a parameter's constraints allow."""
    spec = template["Parameters"][parameter]
    if "AllowedValues" in spec:
        return max(len(str(v)) for v in spec["AllowedValues"])
    if "MaxLength" in spec:
        return int(spec["MaxLength"])
    if spec["Type"] == "Number":
        return len(str(spec.get("MaxValue", 10**15)))
    counts = [int(m) for m in re.findall(r"\{\d+,(\d+)\}", spec["AllowedPattern"])]
    return 1 + max(counts)  # our patterns: a fixed first character then {n,m}


@pytest.mark.parametrize(("flavour", "name"), VERSIONED_FUNCTIONS)
def test_every_allowed_parameter_value_fits_the_version_description(flavour, name):
    template = load_template(SOURCES[flavour])
    description = template["Resources"][name]["Properties"]["VersionDescription"]["Fn::Sub"]
    text, variables = (description, {}) if isinstance(description, str) else description
    worst = re.sub(
        r"\$\{([^}]+)\}", lambda m: "x" * longest(template, m.group(1)) if m.group(1) not in variables else "", text
    )
    worst += "x" * max(
        (max(len(v) for v in walk(value) if isinstance(v, str)) for value in variables.values()), default=0
    )
    assert len(worst) <= 256, f"{name}: up to {len(worst)} characters; Lambda allows 256"


@pytest.mark.parametrize("flavour", SOURCES)
def test_the_pre_traffic_hook_tests_the_function_of_every_fixture_in_either_flavour(flavour):
    template = load_template(SOURCES[flavour])
    hook = template["Resources"]["PreTrafficFunction"]["Properties"]
    assert "AutoPublishAlias" not in hook and "DeploymentPreference" not in hook
    text = hook["Environment"]["Variables"]["PRE_TRAFFIC_TARGETS"]["Fn::Sub"]
    targets = dict(item.split("=", 1) for item in text.split(","))
    # every fixture's function is a target (events/<function>_<case>.json), each the new version of
    # the function serving it: its own in the SAM flavour, the one Chalice function in the other
    assert set(targets) == {path.name.rsplit("_", 1)[0] for path in EVENTS.glob("*_*.json")}
    for folder, version in targets.items():
        (serving,) = [
            name for name in api_functions(template) if flavour == "chalice" or name == f"{folder.title()}Function"
        ]
        assert version == f"${{{serving}.Version}}", folder


@pytest.mark.parametrize("flavour", SOURCES)
def test_alarms_watch_the_new_version_only(flavour):
    template = load_template(SOURCES[flavour])
    for name in api_functions(template):
        stem = name.removesuffix("Function")
        version = {"Fn::Select": [7, {"Fn::Split": [":", {"Ref": f"{name}.Version"}]}]}
        latency = template["Resources"][f"{stem}LatencyAlarm"]["Properties"]
        assert {"Name": "ExecutedVersion", "Value": version} in latency["Dimensions"]
        errors = template["Resources"][f"{stem}ErrorsAlarm"]["Properties"]["Metrics"]
        dimensions = [d for m in errors if "MetricStat" in m for d in m["MetricStat"]["Metric"]["Dimensions"]]
        assert {"Name": "ExecutedVersion", "Value": version} in dimensions
        assert {"Name": "function_version", "Value": version} in dimensions


@pytest.mark.parametrize("translation", TRANSLATIONS)
def test_translation_has_alias_deployment_group_with_alarms_and_hook_per_function(translation):
    translated = load_translated(translation)
    groups = resources(translated, "AWS::CodeDeploy::DeploymentGroup")
    aliases = resources(translated, "AWS::Lambda::Alias")
    expected_type = parameter_overrides(environment_of(translation))["DeploymentType"]
    functions = api_functions(load_template(SOURCES[TRANSLATIONS[translation]]))
    assert set(aliases) == {f"{name}Aliaslive" for name in functions}
    for name in functions:
        stem = name.removesuffix("Function")
        alias = aliases[f"{name}Aliaslive"]
        update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
        assert update["BeforeAllowTrafficHook"] == {"Ref": "PreTrafficFunction"}
        group = groups[update["DeploymentGroupName"]["Ref"]]["Properties"]
        assert group["AlarmConfiguration"] == {
            "Alarms": [{"Name": {"Ref": f"{stem}ErrorsAlarm"}}, {"Name": {"Ref": f"{stem}LatencyAlarm"}}],
            "Enabled": True,
        }
        assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]
        assert group["DeploymentConfigName"]["Fn::Sub"][1] == {"ConfigName": expected_type}
        assert group["ServiceRoleArn"] == {"Fn::GetAtt": ["CodeDeployRole", "Arn"]}


def test_no_stray_stage_named_stage(any_translated):
    assert [s["Properties"]["StageName"] for s in resources(any_translated, "AWS::ApiGateway::Stage").values()] == [
        {"Ref": "Environment"}
    ]
