"""One name from folder to logical id to event file to test; one route table (the template's)."""

import json

import pytest

from tests.factories import EVENTS, ROOT, load_event
from tests.templates.conftest import BUILD, api_functions, load_template, resources

FOLDERS = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "handler.py").exists())


def logical_id(folder: str) -> str:
    return "".join(part.title() for part in folder.split("_")) + "Function"


#: the app's functions live in template.yaml; the pipeline's (delivery metrics) in infra/pipeline.yaml,
#: whose CodeUri is relative to infra/
TEMPLATES = {"template.yaml": "functions/", "infra/pipeline.yaml": "../functions/"}


def declared_functions():
    return {
        name: (path, function)
        for path in TEMPLATES
        for name, function in resources(load_template(path), "AWS::Serverless::Function").items()
    }


@pytest.mark.parametrize("folder", FOLDERS)
def test_folder_logical_id_and_test_carry_one_name(folder):
    path, function = declared_functions()[logical_id(folder)]
    assert function["Properties"]["CodeUri"] == f"{TEMPLATES[path]}{folder}"
    assert (ROOT / "tests" / "unit" / "functions" / f"test_{folder}_handler.py").exists()


def test_every_function_in_the_templates_has_a_folder():
    assert set(declared_functions()) == {logical_id(folder) for folder in FOLDERS}


def test_every_api_function_has_fixtures_and_every_fixture_a_function():
    api = {name.removesuffix("Function").lower() for name in api_functions(load_template())}
    fixtures = {p.name.rsplit("_", 1)[0] for p in EVENTS.glob("*_*.json")}
    assert fixtures == api


def test_fixtures_name_the_route_the_template_declares():
    routes = {}
    for name, function in api_functions(load_template()).items():
        for event in function["Properties"]["Events"].values():
            routes[name.removesuffix("Function").lower()] = (event["Properties"]["Method"], event["Properties"]["Path"])
    for path in EVENTS.glob("*_*.json"):
        event = load_event(path.name)
        method, resource = routes[path.name.rsplit("_", 1)[0]]
        assert (event["httpMethod"], event["resource"]) == (method, resource), path.name
        assert event["requestContext"]["resourcePath"] == resource, path.name


def _shape(node):
    if isinstance(node, dict):
        return {key: _shape(value) for key, value in node.items() if key not in {"headers", "multiValueHeaders"}}
    return None


def test_fixtures_are_shaped_like_sam_generate_event_output():
    reference = BUILD / "generated-aws-proxy-event.json"
    if not reference.exists():
        pytest.fail(f"{reference} is missing: `make translate` writes it with `sam local generate-event`")
    expected = _shape(json.loads(reference.read_text()))
    for path in EVENTS.glob("*_*.json"):
        event = load_event(path.name)
        shape = _shape(event)
        for key in ("pathParameters", "queryStringParameters", "multiValueQueryStringParameters", "stageVariables"):
            shape[key] = expected[key] = None  # null or a map, as API Gateway sends
        assert shape == expected, path.name
        assert event["body"] is None and event["isBase64Encoded"] is False, path.name
        assert event["path"] == event["requestContext"]["path"].removeprefix("/dev"), path.name
