"""scripts/emulator_overlay.py: what it changes is exactly what it prints, docs/emulator.md lists the
same, and SAM no longer makes anything the emulator refuses."""

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from host.template import load
from scripts.emulator_overlay import main, overlay
from tests.factories import ROOT

TEMPLATE = ROOT / "template.yaml"
DOC = ROOT / "docs" / "emulator.md"
SAM_PYTHON = ROOT / ".tools" / "sam" / "bin" / "python"


def overlaid() -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    source = load(TEMPLATE)
    changed = copy.deepcopy(source)
    return source, changed, overlay(changed, ROOT)


def without_code_paths(resource: dict[str, Any]) -> dict[str, Any]:
    properties = {
        k: v for k, v in resource.get("Properties", {}).items() if k not in ("CodeUri", "ContentUri", "TemplateURL")
    }
    return {**resource, "Properties": properties}


def test_every_change_is_printed_and_every_printed_line_is_a_change():
    source, changed, dropped = overlaid()
    assert set(changed["Resources"]) == set(source["Resources"]), "the overlay removes no resource"
    differing = {
        name
        for name, resource in source["Resources"].items()
        if without_code_paths(resource) != without_code_paths(changed["Resources"][name])
    }
    named = {line.split(".", 1)[0].split(" ", 1)[0] for line in dropped}
    assert differing == named
    assert {k: v for k, v in source.items() if k != "Resources"} == {
        k: v for k, v in changed.items() if k != "Resources"
    }


def test_no_codedeploy_and_no_reference_to_its_application_is_left():
    _, changed, dropped = overlaid()
    functions = [r for r in changed["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    assert functions and not any("DeploymentPreference" in r["Properties"] for r in functions)
    assert "ServerlessDeploymentApplication" not in json.dumps(changed)
    assert sum(".DeploymentPreference:" in line for line in dropped) == 4


def test_metric_math_alarms_become_single_metric_alarms_on_their_first_metric():
    source, changed, _ = overlaid()
    math = [n for n, r in source["Resources"].items() if "Metrics" in r.get("Properties", {})]
    assert len(math) == 5  # the four functions' errors alarms and the API canary's client errors
    for name in math:
        before, after = source["Resources"][name]["Properties"], changed["Resources"][name]["Properties"]
        first = next(q for q in before["Metrics"] if "MetricStat" in q)["MetricStat"]
        assert "Metrics" not in after
        assert (after["Namespace"], after["MetricName"], after.get("Dimensions")) == (
            first["Metric"]["Namespace"],
            first["Metric"]["MetricName"],
            first["Metric"].get("Dimensions"),
        )
        assert (after["Statistic"], after["Period"]) == (first["Stat"], first["Period"])
        for kept in ("Threshold", "ComparisonOperator", "EvaluationPeriods", "TreatMissingData", "AlarmActions"):
            assert after[kept] == before[kept], kept


def test_alarm_reads_by_name_are_widened_for_the_emulator_only_and_printed():
    source, changed, dropped = overlaid()
    statement = next(
        s
        for s in changed["Resources"]["ApiCanaryFunction"]["Properties"]["Policies"][0]["Statement"]
        if s["Sid"] == "WatchTheCanaryAlarms"
    )
    assert statement["Resource"] == "*"
    assert [line for line in dropped if "DescribeAlarms" in line] == [
        "ApiCanaryFunction policy statement WatchTheCanaryAlarms: Resource '*' instead of the alarms' ARNs"
        " (ministack checks DescribeAlarms against '*' whatever alarms it names; AWS accepts the ARNs)"
    ]
    original = source["Resources"]["ApiCanaryFunction"]["Properties"]["Policies"][0]["Statement"]
    assert next(s for s in original if s["Sid"] == "WatchTheCanaryAlarms")["Resource"] != "*"


def test_code_paths_are_absolute_and_the_layer_can_be_replaced(tmp_path: Path):
    source = tmp_path / "template.yaml"
    source.write_text(TEMPLATE.read_text())
    layer = tmp_path / "other-layer"
    target = tmp_path / "out" / "template.json"
    assert main([str(source), str(target), "--layer", str(layer)]) == 0
    resources = json.loads(target.read_text())["Resources"]
    assert resources["SharedLayer"]["Properties"]["ContentUri"] == str(layer)
    assert resources["HomeFunction"]["Properties"]["CodeUri"] == str(tmp_path / "functions" / "home")
    assert resources["NetworkStack"]["Properties"]["TemplateURL"] == str(tmp_path / "infra" / "network.yaml")


def test_bad_arguments_are_a_usage_error(capsys: pytest.CaptureFixture[str]):
    assert main(["only-one"]) == 2
    assert main(["a", "b", "--nope", "c"]) == 2
    assert "usage" in capsys.readouterr().err


def test_docs_list_exactly_what_the_overlay_drops(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main([str(TEMPLATE), str(tmp_path / "t.json")]) == 0
    printed = [line[4:] for line in capsys.readouterr().out.splitlines() if line.startswith("  - ")]
    block = re.search(r"<!-- overlay:begin -->\n(.*?)<!-- overlay:end -->", DOC.read_text(), re.S)
    assert block, "docs/emulator.md has no overlay block"
    documented = [line[2:].replace("`", "") for line in block.group(1).splitlines() if line.startswith("- ")]
    assert documented == printed, "docs/emulator.md's list drifted from what scripts/emulator_overlay.py prints"


def test_sam_translates_the_overlaid_template_without_codedeploy(tmp_path: Path):
    """SAM's own translator (the one `make translate` runs) makes nothing of CodeDeploy from the result."""
    overlaid_template = tmp_path / "template.json"
    assert main([str(TEMPLATE), str(overlaid_template)]) == 0
    translated = tmp_path / "translated.json"
    subprocess.run(
        [
            str(SAM_PYTHON),
            str(ROOT / "scripts" / "translate.py"),
            str(overlaid_template),
            str(ROOT / "samconfig.toml"),
            "prod",
            str(translated),
        ],
        check=True,
        capture_output=True,
        env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"},
    )
    resources = json.loads(translated.read_text())["Resources"]
    assert not [n for n, r in resources.items() if r["Type"].startswith("AWS::CodeDeploy::")]
    assert not [
        n
        for n, r in resources.items()
        if "Metrics" in r.get("Properties", {}) and r["Type"] == "AWS::CloudWatch::Alarm"
    ]
    aliases = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Alias"]
    assert len(aliases) == 4 and all("UpdatePolicy" not in r for r in aliases)
