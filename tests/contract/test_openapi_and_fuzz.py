"""The committed OpenAPI document matches the route source, and schemathesis finds nothing wrong."""

import json
import re
import subprocess
import sys
from pathlib import Path

from host import openapi
from host.local import free_port, running
from tests.factories import ROOT

DOCUMENT = ROOT / "docs" / "openapi.json"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
MIN_CASES = 300


def test_committed_openapi_is_generated_from_the_route_source():
    assert DOCUMENT.read_text() == openapi.render(), "docs/openapi.json drifted: run `make openapi`"


def test_openapi_lists_exactly_the_template_routes():
    from host.template import read_api

    paths = json.loads(DOCUMENT.read_text())["paths"]
    routes = {(r.path, r.method.lower()) for r in read_api(ROOT / "template.yaml").routes}
    assert {(path, method) for path, ops in paths.items() for method in ops} == routes


def test_schemathesis_finds_no_server_error_and_no_schema_violation(tmp_path: Path):
    env_file = tmp_path / "env.json"  # short sleeps, so generated numbers cannot stall the run
    env_file.write_text(json.dumps({"SleepFunction": {"MAX_SLEEP_SECONDS": "0.05"}}))
    with running(free_port(), free_port(), env_file=env_file, quiet=True) as api:
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "st"),
                "run",
                str(DOCUMENT),
                "--url",
                api.url,
                "--checks",
                CHECKS,
                "--max-examples",
                "400",
                "--seed",
                "20261126",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", output)
    assert counts, output[-3000:]
    generated, passed = int(counts.group(1)), int(counts.group(2))
    assert generated == passed >= MIN_CASES, output[-3000:]
    assert "No issues found" in output
