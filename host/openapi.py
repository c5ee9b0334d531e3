"""The OpenAPI document of the API, generated from the single route source (template.yaml) and
the documented answers (events/expected.json). `make openapi` writes docs/openapi.json; a test fails
when the committed document drifts from what this module generates."""

import json
import re
import sys
from pathlib import Path
from typing import Any

from host.template import read_api

ROOT = Path(__file__).resolve().parents[1]
TEXT = {"text/plain": {"schema": {"type": "string"}}}


def _json_schema(keys: list[str]) -> dict[str, Any]:
    return {
        "application/json": {
            "schema": {
                "type": "object",
                "required": sorted(keys),
                "properties": {key: {"type": "string"} for key in sorted(keys)},
                "additionalProperties": False,
            }
        }
    }


def _responses(function: str, expected: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for fixture, spec in sorted(expected.items()):
        if fixture.startswith("_") or fixture.removesuffix(".json").rsplit("_", 1)[0] != function:
            continue
        content = _json_schema(spec["json_keys"]) if "json_keys" in spec else TEXT
        responses[str(spec["status"])] = {"description": fixture.removesuffix(".json"), "content": content}
    return responses


TEMPLATE = ROOT / "template.yaml"
EXPECTATIONS = ROOT / "events" / "expected.json"


def build(template: Path = TEMPLATE, expectations: Path = EXPECTATIONS) -> dict[str, Any]:
    api = read_api(template)
    expected = json.loads(expectations.read_text())
    paths: dict[str, Any] = {}
    for route in sorted(api.routes, key=lambda r: (r.path, r.method)):
        folder = route.function.removesuffix("Function").lower()
        operation: dict[str, Any] = {"operationId": route.function, "responses": _responses(folder, expected)}
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"\{([A-Za-z0-9_]+)\+?\}", route.path)
        ]
        if parameters:
            operation["parameters"] = parameters
        methods = ["get", "post", "put", "delete", "patch"] if route.method == "ANY" else [route.method.lower()]
        for method in methods:
            paths.setdefault(route.path, {})[method] = operation
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "simple-api",
            "version": "1",
            "description": "Generated from template.yaml and "
            "events/expected.json by host/openapi.py (make openapi). Do not edit.",
        },
        "paths": paths,
    }


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "openapi.json"
    target.write_text(render())
    print(f"wrote {target}")
