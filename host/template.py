"""What the host needs from template.yaml: functions, routes, environment, gateway responses.

Intrinsics are resolved the way ``sam local`` resolves them: ``Ref`` to a parameter gives its
value (default, or an override), pseudo parameters get local values, and anything that needs a
deployed stack (``Fn::GetAtt``, a ``Sub`` naming a resource) leaves the variable unset.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

FUNCTION = "AWS::Serverless::Function"
API = "AWS::Serverless::Api"
#: the REST proxy limit of a Lambda integration (and API Gateway's integration timeout)
DEFAULT_TIMEOUT_SECONDS = 3
PSEUDO = {
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "local",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": None,
}


class Unresolvable(Exception):
    """An intrinsic that only a deployed stack can resolve."""


class _CloudFormationLoader(yaml.SafeLoader):
    """PyYAML loader that reads ``!Ref x`` as ``{"Ref": "x"}``, ``!GetAtt a.b`` as ``{"Fn::GetAtt": [a, b]}``."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(path.read_text(), Loader=_CloudFormationLoader)  # noqa: S506 - SafeLoader subclass  # nosec B506
    return document


@dataclass(frozen=True)
class Route:
    method: str  # GET, POST, ... or ANY
    path: str  # API Gateway resource path, e.g. /sleep/{seconds}
    function: str  # logical id

    def pattern(self) -> re.Pattern[str]:
        parts = []
        for segment in self.path.strip("/").split("/") if self.path != "/" else []:
            match = re.fullmatch(r"\{([A-Za-z0-9_]+)(\+?)\}", segment)
            if match and match.group(2):
                parts.append(f"(?P<{match.group(1)}>.+)")
            elif match:
                parts.append(f"(?P<{match.group(1)}>[^/]+)")
            else:
                parts.append(re.escape(segment))
        return re.compile("^/" + "/".join(parts) + "$")


@dataclass(frozen=True)
class Function:
    name: str  # logical id
    module: str  # importable module of the handler, e.g. functions.sleep.handler
    attribute: str  # handler function, e.g. lambda_handler
    timeout_seconds: float
    memory_mb: int
    environment: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    body: str


@dataclass(frozen=True)
class Api:
    stage: str
    functions: Mapping[str, Function]
    routes: tuple[Route, ...]
    gateway_responses: Mapping[str, GatewayResponse]


def _resolve(  # noqa: PLR0911 - one return per intrinsic
    node: Any, parameters: Mapping[str, str], region: str, conditions: Mapping[str, Any] | None = None
) -> Any:
    """``node`` with the intrinsics a local run can know resolved; Unresolvable for the rest."""
    conditions = conditions or {}
    if isinstance(node, (str, int, float, bool)) or node is None:
        return node
    if isinstance(node, list):
        return [_resolve(item, parameters, region, conditions) for item in node]
    if set(node) == {"Fn::If"}:
        if not (isinstance(node["Fn::If"], list) and len(node["Fn::If"]) == 3):
            raise Unresolvable("Fn::If")
        name, when_true, when_false = node["Fn::If"]
        chosen = when_true if _condition(name, parameters, region, conditions) else when_false
        return _resolve(chosen, parameters, region, conditions)
    if set(node) == {"Ref"}:
        name = node["Ref"]
        if name == "AWS::Region":
            return region
        if name in PSEUDO:
            return PSEUDO[name]
        if name in parameters:
            return parameters[name]
        raise Unresolvable(name)
    if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
        text = node["Fn::Sub"]

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} stands for the text ${Literal}
                return "${" + name[1:] + "}"
            if "." in name:  # ${Resource.Attribute}: only a deployed stack knows it
                raise Unresolvable(name)
            return str(_resolve({"Ref": name}, parameters, region))

        return re.sub(r"\$\{([^}]+)\}", substitute, text)
    raise Unresolvable(next(iter(node), "?"))


def _condition(name: str, parameters: Mapping[str, str], region: str, conditions: Mapping[str, Any]) -> bool:
    if name not in conditions:
        raise Unresolvable(f"Condition {name}")
    return _truth(conditions[name], parameters, region, conditions)


def _truth(node: Any, parameters: Mapping[str, str], region: str, conditions: Mapping[str, Any]) -> bool:
    """Fn::Equals / Not / And / Or / Condition, as CloudFormation evaluates Conditions."""
    if isinstance(node, dict) and len(node) == 1:
        ((function, arguments),) = node.items()
        if function == "Condition":
            return _condition(arguments, parameters, region, conditions)
        if function == "Fn::Equals":
            left, right = (_resolve(a, parameters, region, conditions) for a in arguments)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not _truth(arguments[0], parameters, region, conditions)
        if function == "Fn::And":
            return all(_truth(a, parameters, region, conditions) for a in arguments)
        if function == "Fn::Or":
            return any(_truth(a, parameters, region, conditions) for a in arguments)
    raise Unresolvable("condition")


def _parameters(template: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, str]:
    values = {name: str(spec["Default"]) for name, spec in template.get("Parameters", {}).items() if "Default" in spec}
    values.update(overrides)
    return values


def _environment(
    variables: Mapping[str, Any], parameters: Mapping[str, str], region: str, conditions: Mapping[str, Any]
) -> dict[str, str]:
    environment = {}
    for key, value in variables.items():
        try:
            resolved = _resolve(value, parameters, region, conditions)
        except Unresolvable:
            continue  # needs a deployed stack; sam local leaves such variables out too
        if resolved is not None:
            environment[key] = str(resolved)
    return environment


def read_api(path: Path, parameter_overrides: Mapping[str, str] | None = None, region: str = "us-east-1") -> Api:
    """The API served by ``path``: every function with an Api event, its routes and environment."""
    template = load(path)
    parameters = _parameters(template, parameter_overrides or {})
    defaults = template.get("Globals", {}).get("Function", {})
    resources = template.get("Resources", {})
    functions: dict[str, Function] = {}
    routes: list[Route] = []
    for name, resource in resources.items():
        if resource.get("Type") != FUNCTION:
            continue
        properties = {**defaults, **resource.get("Properties", {})}
        events = [e["Properties"] for e in properties.get("Events", {}).values() if e.get("Type") == "Api"]
        if not events:
            continue
        module, _, attribute = str(properties["Handler"]).rpartition(".")
        code = str(properties["CodeUri"]).strip("/").replace("/", ".")
        variables = {
            **defaults.get("Environment", {}).get("Variables", {}),
            **resource.get("Properties", {}).get("Environment", {}).get("Variables", {}),
        }
        functions[name] = Function(
            name=name,
            module=f"{code}.{module}",
            attribute=attribute,
            timeout_seconds=float(_resolve(properties.get("Timeout", DEFAULT_TIMEOUT_SECONDS), parameters, region)),
            memory_mb=int(_resolve(properties.get("MemorySize", 128), parameters, region)),
            environment=_environment(variables, parameters, region, template.get("Conditions", {})),
        )
        routes += [Route(method=str(e["Method"]).upper(), path=str(e["Path"]), function=name) for e in events]
    api: dict[str, Any] = next((r["Properties"] for r in resources.values() if r.get("Type") == API), {})
    responses = {
        kind: GatewayResponse(
            status=int(spec.get("StatusCode", 0)),
            body=str(spec.get("ResponseTemplates", {}).get("application/json", "")),
        )
        for kind, spec in api.get("GatewayResponses", {}).items()
    }
    stage = str(_resolve(api.get("StageName", "Prod"), parameters, region))
    return Api(stage=stage, functions=functions, routes=tuple(routes), gateway_responses=responses)
