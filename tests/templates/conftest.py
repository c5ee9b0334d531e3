"""Templates as data: template.yaml (CloudFormation tags as intrinsic dicts), samconfig.toml, and the
offline SAM translations that `make translate` writes to .aws-sam/."""

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cfn_tools import load_yaml

from scripts.samconfig import parameter_values
from tests.factories import ROOT

BUILD = ROOT / ".aws-sam"
ENVIRONMENTS = ("dev", "prod")
#: the SAM source of each flavour (`make chalice-package` writes the Chalice one) and its translations
#: (`make translate`: translated-dev.json ...; `make chalice-translate`: translated-chalice-dev.json ...)
SOURCES = {"sam": "template.yaml", "chalice": ".aws-sam/chalice/package/template.yaml"}
TRANSLATIONS = {
    f"{prefix}{env}": flavour for flavour, prefix in (("sam", ""), ("chalice", "chalice-")) for env in ENVIRONMENTS
}
#: DeploymentPreference types SAM knows (sam-property-function-deploymentpreference)
SAM_DEPLOYMENT_TYPES = frozenset(
    {"AllAtOnce"}
    | {f"Canary10Percent{m}Minutes" for m in (5, 10, 15, 30)}
    | {"Linear10PercentEvery1Minute"}
    | {f"Linear10PercentEvery{m}Minutes" for m in (2, 3, 10)}
)


class FakeCommand:
    """A command (`sam`, `docker`) that records every call's arguments, for scripts that would deploy
    or push. `docker login --password-stdin` gets its stdin read, as the real one does."""

    SEPARATOR = "\x1e"

    def __init__(self, folder: Path, name: str) -> None:
        self.path = folder / name
        self._record = folder / f"{name}.calls"
        self.path.write_text(
            "#!/bin/sh\n"
            f"printf '%s\\n' \"$@\" '{self.SEPARATOR}' >> {self._record}\n"
            'case "$1" in login) cat > /dev/null ;; esac\n'
        )
        self.path.chmod(0o755)

    def calls(self) -> list[list[str]]:
        if not self._record.exists():
            return []
        text = self._record.read_text().removesuffix(f"{self.SEPARATOR}\n")
        return [call.splitlines() for call in text.split(f"{self.SEPARATOR}\n")]

    def arguments(self) -> list[str]:
        """The last call's arguments."""
        return self.calls()[-1]


def plain(node: Any) -> Any:
    return json.loads(json.dumps(node))


@cache
def load_template(path: str = "template.yaml") -> dict[str, Any]:
    if not (ROOT / path).exists():
        pytest.fail(f"{path} is missing: `make chalice-package` writes it (make test runs it first)")
    document: dict[str, Any] = plain(load_yaml((ROOT / path).read_text()))
    return document


def environment_of(translation: str) -> str:
    """The samconfig section a translation was made with: chalice-prod -> prod."""
    return translation.removeprefix("chalice-")


def parameter_overrides(env: str) -> dict[str, str]:
    return parameter_values(env)


@cache
def load_translated(env: str) -> dict[str, Any]:
    path = BUILD / f"translated-{env}.json"
    if not path.exists():
        pytest.fail(f"{path} is missing: `make translate` writes it (make test runs it first)")
    document: dict[str, Any] = json.loads(path.read_text())
    return document


@pytest.fixture
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(params=ENVIRONMENTS)
def translated(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The SAM flavour's translations."""
    return load_translated(request.param)


@pytest.fixture(params=TRANSLATIONS)
def any_translated(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Every translation of both flavours: for the house policies both must keep."""
    return load_translated(request.param)


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def api_functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Functions behind an API route: those with Api events (SAM) or those an API Gateway permission
    names, or names the alias of (Chalice's one function, routed by its swagger definition)."""
    permitted = {
        str(permission["Properties"]["FunctionName"].get("Ref", "")).removesuffix(".Alias")
        for permission in resources(template, "AWS::Lambda::Permission").values()
        if permission["Properties"].get("Principal") == "apigateway.amazonaws.com"
        and isinstance(permission["Properties"].get("FunctionName"), dict)
    }
    return {
        name: r
        for name, r in resources(template, "AWS::Serverless::Function").items()
        if name in permitted or any(e["Type"] == "Api" for e in r["Properties"].get("Events", {}).values())
    }


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def evaluate(node: Any, parameters: dict[str, str], template: dict[str, Any], *, sub: bool = False) -> Any:
    """Resolve Ref to parameters, Fn::Equals/Not/If and Conditions: enough to ask 'what does this
    stack get with these parameter values?'. With ``sub``, also Fn::Sub strings whose every name
    is a parameter. Other intrinsics are returned as they are."""
    if isinstance(node, list):
        return [v for v in (evaluate(v, parameters, template, sub=sub) for v in node) if v is not _NO_VALUE]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        name = node["Ref"]
        if name == "AWS::NoValue":
            return _NO_VALUE
        declared = template.get("Parameters", {}).get(name)
        if declared is not None:
            return str(parameters.get(name, declared.get("Default")))
        return node
    if set(node) == {"Condition"}:
        return evaluate(template["Conditions"][node["Condition"]], parameters, template, sub=sub)
    if set(node) == {"Fn::Equals"}:
        left, right = (evaluate(v, parameters, template, sub=sub) for v in node["Fn::Equals"])
        return str(left) == str(right)
    if set(node) == {"Fn::Not"}:
        return not evaluate(node["Fn::Not"][0], parameters, template, sub=sub)
    if set(node) == {"Fn::And"}:
        return all(evaluate(item, parameters, template, sub=sub) for item in node["Fn::And"])
    if set(node) == {"Fn::Or"}:
        return any(evaluate(item, parameters, template, sub=sub) for item in node["Fn::Or"])
    if sub and set(node) == {"Fn::Sub"}:
        return _substitute(node["Fn::Sub"], parameters, template)
    if set(node) == {"Fn::If"}:
        condition, when_true, when_false = node["Fn::If"]
        chosen = when_true if evaluate(template["Conditions"][condition], parameters, template, sub=sub) else when_false
        return evaluate(chosen, parameters, template, sub=sub)
    return {
        k: v
        for k, v in ((k, evaluate(v, parameters, template, sub=sub)) for k, v in node.items())
        if v is not _NO_VALUE
    }


_NO_VALUE = object()


def _substitute(arguments: Any, parameters: dict[str, str], template: dict[str, Any]) -> Any:
    """Fn::Sub where every ${name} is a parameter or one of its own variables (which may use the
    intrinsics above); anything else (a resource, an attribute) leaves the Fn::Sub as it is."""
    text, variables = (arguments, {}) if isinstance(arguments, str) else arguments
    values = {name: evaluate(value, parameters, template, sub=True) for name, value in variables.items()}
    unresolved = False

    def value_of(match: re.Match[str]) -> str:
        nonlocal unresolved
        name = match.group(1)
        found = values.get(name, evaluate({"Ref": name}, parameters, template))
        if not isinstance(found, str):
            unresolved = True
            return match.group(0)
        return found

    result = re.sub(r"\$\{([^!}][^}]*)\}", value_of, text)
    if not unresolved:
        return result
    return {"Fn::Sub": text if isinstance(arguments, str) else [text, values]}
