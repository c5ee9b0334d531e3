"""Every checkov suppression suppresses a check that really fails, and says why: each template is
scanned again with its suppressions stripped, and every suppressed (check, resource) must fail there."""

import json
import os
import subprocess
from pathlib import Path

import pytest
from cfn_tools import load_yaml

from tests.factories import ROOT

CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"
TEMPLATES = [
    "template.yaml",
    "infra/network.yaml",
    "infra/ec2.yaml",
    "infra/fargate.yaml",
    "infra/pipeline.yaml",
    ".aws-sam/translated-dev.json",
    ".aws-sam/translated-prod.json",
    ".aws-sam/chalice/package/template.yaml",
    ".aws-sam/translated-chalice-dev.json",
    ".aws-sam/translated-chalice-prod.json",
]


def stripped(path: str, folder: Path) -> tuple[Path, dict[tuple[str, str], str]]:
    text = (ROOT / path).read_text()
    document = json.loads(json.dumps(load_yaml(text))) if path.endswith(".yaml") else json.loads(text)
    skips = {}
    for name, resource in document["Resources"].items():
        for skip in resource.get("Metadata", {}).pop("checkov", {}).get("skip", []):
            skips[(skip["id"], name)] = skip.get("comment", "")
    copy = folder / (path.replace("/", "_") + ".json")
    copy.write_text(json.dumps(document))
    return copy, skips


def failing(path: Path) -> set[tuple[str, str]]:
    result = subprocess.run(
        [str(CHECKOV), "--framework", "cloudformation", "--skip-download", "-o", "json", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    report = json.loads(result.stdout)
    return {(c["check_id"], c["resource"].split(".")[-1]) for c in report["results"]["failed_checks"]}


@pytest.mark.parametrize("path", TEMPLATES)
def test_every_suppression_suppresses_a_failing_check_with_its_own_reason(path, tmp_path):
    copy, skips = stripped(path, tmp_path)
    fails = failing(copy)
    assert sorted(set(skips) - fails) == [], "suppressions that suppress nothing"
    assert sorted(fails - set(skips)) == [], "failing checks nothing suppresses"
    for key, reason in skips.items():
        assert len(reason) > 30 and "as above" not in reason.lower(), (key, reason)


def test_the_suppression_check_can_fail(tmp_path):
    """A suppression of a check that passes shows up as one that suppresses nothing."""
    copy, _ = stripped("infra/network.yaml", tmp_path)
    planted = {("CKV_AWS_18", "Vpc")}  # S3 access logging: never a VPC's check
    assert planted - failing(copy) == planted
