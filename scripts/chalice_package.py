"""`make chalice-package`, after `chalice package --merge-template`: the API calls the live alias.

Chalice writes one integration per route, each calling ``${APIHandler.Arn}``: the unversioned
function, i.e. $LATEST, which a CodeDeploy traffic shift never touches. A merge template could only
change them by repeating every route, so this rewrites exactly those URIs to the ARN of ``APIHandler.Alias``,
which SAM resolves to the alias its AutoPublishAlias publishes (the merge template turns that on and
gives the API's permission to the alias). Anything else is refused, so a Chalice release that writes
its template differently fails the build instead of shipping an API that bypasses the alias.

Usage: chalice_package.py CHALICE_TEMPLATE OUTPUT_TEMPLATE
"""

import sys
from pathlib import Path
from typing import Any

import yaml

FUNCTION = "APIHandler"
ALIAS = "live"
_URI = "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${%s}/invocations"
CHALICE_URI = {"Fn::Sub": _URI % f"{FUNCTION}.Arn"}


def alias_uri() -> dict[str, Any]:
    """The integration URI of the live alias: a Ref to ``APIHandler.Alias`` (SAM resolves it to the
    alias it generates; cfn-lint knows it as SAM's, where it rejects the same name inside a Sub)."""
    return {"Fn::Sub": [_URI % "LiveAlias", {"LiveAlias": {"Ref": f"{FUNCTION}.Alias"}}]}


class NotAChaliceTemplate(ValueError):
    """The template is not shaped as `chalice package` + our merge template make it."""


def integrations(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """("GET /sleep/{seconds}", its x-amazon-apigateway-integration) for every operation of RestAPI."""
    try:
        paths = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    except (KeyError, TypeError) as error:
        raise NotAChaliceTemplate(f"no RestAPI DefinitionBody paths ({error})") from None
    found = []
    for path, operations in paths.items():
        for method, operation in operations.items():
            integration = operation.get("x-amazon-apigateway-integration")
            if not isinstance(integration, dict):
                raise NotAChaliceTemplate(f"{method.upper()} {path} has no integration")
            found.append((f"{method.upper()} {path}", integration))
    return found


def call_the_alias(template: dict[str, Any]) -> int:
    """Point every Lambda integration at the live alias; return how many were rewritten."""
    handler = template.get("Resources", {}).get(FUNCTION, {}).get("Properties", {})
    if handler.get("AutoPublishAlias") != ALIAS:
        raise NotAChaliceTemplate(f"{FUNCTION} publishes no {ALIAS!r} alias: is the merge template applied?")
    permission = template["Resources"].get(f"{FUNCTION}InvokePermission", {}).get("Properties", {})
    if permission.get("FunctionName") != {"Ref": f"{FUNCTION}.Alias"}:
        raise NotAChaliceTemplate(f"API Gateway's permission is not on {FUNCTION}.Alias")
    rewritten = 0
    for operation, integration in integrations(template):
        if integration.get("type") == "mock":  # a CORS preflight Chalice answers in API Gateway itself
            continue
        if integration.get("type") != "aws_proxy" or integration.get("uri") != CHALICE_URI:
            raise NotAChaliceTemplate(f"{operation}: unexpected integration {integration.get('uri')!r}")
        integration["uri"] = alias_uri()
        rewritten += 1
    if not rewritten:
        raise NotAChaliceTemplate("no route calls the function")
    return rewritten


def main(source: str, target: str) -> int:
    template = yaml.safe_load(Path(source).read_text())
    try:
        count = call_the_alias(template)
    except NotAChaliceTemplate as error:
        print(f"{source}: {error}", file=sys.stderr)
        return 1
    Path(target).write_text(yaml.safe_dump(template, sort_keys=False, allow_unicode=True))
    print(f"{target}: {count} integrations call {FUNCTION}:{ALIAS}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.rsplit("Usage: ", 1)[1].strip())
    sys.exit(main(sys.argv[1], sys.argv[2]))
