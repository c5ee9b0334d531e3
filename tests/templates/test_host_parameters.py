"""EC2 and Fargate run the same handlers through host/, which resolves template.yaml's function
environment itself. They must resolve it with the stack's parameter values, not the template's
defaults (a prod fleet once read dev's secret name): the root stack passes every parameter the
functions' environment reads, the same to both variants."""

import re

from host.template import read_api
from tests.factories import ROOT
from tests.templates.conftest import api_functions, load_template, walk


def passed(stack: str) -> dict[str, str]:
    text = load_template()["Resources"][stack]["Properties"]["Parameters"]["HostParameterOverrides"]["Fn::Sub"]
    pairs = dict(item.split("=", 1) for item in text.split())
    assert all(value == f"${{{key}}}" for key, value in pairs.items()), pairs
    return pairs


def test_both_variants_get_every_parameter_the_function_environment_reads():
    template = load_template()
    environment = [template["Globals"]["Function"]["Environment"]] + [
        f["Properties"].get("Environment", {}) for f in api_functions(template).values()
    ]
    read = {n["Ref"] for n in walk(environment) if isinstance(n, dict) and set(n) == {"Ref"}}
    read &= set(template["Parameters"])
    secret = {p for p in read if template["Parameters"][p].get("NoEcho")}
    assert passed("Ec2Stack") == passed("FargateStack")
    assert set(passed("Ec2Stack")) == read - secret


def test_the_host_resolves_the_environment_with_the_stacks_values():
    overrides = dict(item.split("=", 1) for item in ["Environment=prod", "SecretParameterName=/simple-api/prod/secret"])
    api = read_api(ROOT / "template.yaml", overrides)
    secret = api.functions["SecretFunction"].environment
    assert secret["SECRET_PARAMETER_NAME"] == "/simple-api/prod/secret"
    assert secret["ENVIRONMENT"] == "prod"


def test_the_variants_hand_the_values_and_their_runtime_to_the_host():
    ec2 = (ROOT / "infra" / "ec2.yaml").read_text()
    fargate = (ROOT / "infra" / "fargate.yaml").read_text()
    assert re.search(r"^\s+HOST_PARAMETER_OVERRIDES=\$\{HostParameterOverrides\}$", ec2, re.MULTILINE)
    assert re.search(r"^\s+HOST_RUNTIME=ec2$", ec2, re.MULTILINE)
    assert "{Name: HOST_PARAMETER_OVERRIDES, Value: !Ref HostParameterOverrides}" in fargate
    assert "{Name: HOST_RUNTIME, Value: fargate}" in fargate
