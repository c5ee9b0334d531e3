"""The Build stage's gates (scripts/gates.py): `make secrets` and `make sast` pass on this tree (make
test runs them); in a scratch copy of it they fail on a planted credential and a planted insecure
call, and on nothing else - so a pass means something."""

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from scripts import gates
from tests.factories import ROOT

GATES_PYTHON = ROOT / ".tools" / "gates" / "bin" / "python"
#: built at run time, so this file holds no credential-shaped literal itself
FAKE_ACCESS_KEY = "AKIA" + "ZQ4XW7RTMB2K5JHN"
FAKE_SECRET_KEY = "".join(["wJalrXUtnFEMI", "/K7MDENG/bPxRfiCY", "9q2f8Zt3LkVb1NcDs"])
PLANTED = f'''"""A module someone should not have written."""
import subprocess

AWS_ACCESS_KEY_ID = "{FAKE_ACCESS_KEY}"
aws_secret_access_key = "{FAKE_SECRET_KEY}"


def run(command: str) -> int:
    return subprocess.call(command, shell=True)
'''


def _gate(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GATES_PYTHON), str(ROOT / "scripts" / "gates.py"), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A copy of the tree's sources (what the gates read), outside the repository."""
    target = tmp_path_factory.mktemp("scratch") / "repo"
    shutil.copytree(
        ROOT, target, symlinks=True, ignore=lambda folder, names: [n for n in names if n in gates.NOT_SOURCE]
    )
    return target


def test_a_planted_credential_and_an_insecure_call_fail_the_gates(scratch):
    planted = scratch / "layers" / "shared" / "simple_api" / "planted.py"
    planted.write_text(PLANTED)
    notes = scratch / "deploy" / "notes.txt"  # any kind of file, not only code
    notes.write_text(f"aws_access_key_id = {FAKE_ACCESS_KEY}\n")
    try:
        found = _gate("secrets", "--root", str(scratch))
        assert found.returncode == 1, found.stdout
        flagged = set(re.findall(r"^  (\S+):\d+: ", found.stdout, flags=re.MULTILINE))
        assert flagged == {"layers/shared/simple_api/planted.py", "deploy/notes.txt"}  # the plants, nothing else
        assert "layers/shared/simple_api/planted.py:4: AWS Access Key" in found.stdout
        assert FAKE_ACCESS_KEY not in found.stdout and FAKE_SECRET_KEY not in found.stdout  # never echoed
        unsafe = _gate("sast", "--root", str(scratch))
        assert unsafe.returncode == 1, unsafe.stdout
        assert "B602" in unsafe.stdout and "planted.py" in unsafe.stdout  # subprocess with shell=True
        locations = {
            line.split("Location: ")[1].split(":")[0] for line in unsafe.stdout.splitlines() if "Location: " in line
        }
        assert {Path(location).name for location in locations} == {"planted.py"}  # and nothing else
    finally:
        planted.unlink()
        notes.unlink()


def test_the_thresholds_are_committed_and_strict():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["aws-cicd"]["gates"]
    assert config["bandit_severity"] in ("low", "medium") and config["bandit_confidence"] in ("low", "medium")
    assert {"layers/shared/simple_api", "functions", "host", "scripts"} <= set(config["bandit_targets"])
    assert config["sca_ignore"] == []
    baseline = json.loads((ROOT / config["secrets_baseline"]).read_text())["results"]
    assert all(item["is_secret"] is False for items in baseline.values() for item in items)  # every entry audited
    coverage = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["coverage"]["report"]
    assert coverage["fail_under"] >= 90


# ---------------------------------------------------------------- sca: every outcome, without the network
def _fake_audit(monkeypatch, report):
    monkeypatch.setattr(gates, "requirement_sets", lambda: {"layer": "crhelper==2.0.12\n"})

    def run(command, **_):
        return subprocess.CompletedProcess(command, 0, stdout=json.dumps(report), stderr="")

    monkeypatch.setattr(subprocess, "run", run)


CLEAN = {"dependencies": [{"name": "crhelper", "version": "2.0.12", "vulns": []}], "fixes": []}
UNREACHABLE = {"dependencies": [{"name": "crhelper", "skip_reason": "Dependency not found on PyPI"}], "fixes": []}
VULNERABLE = {
    "dependencies": [
        {"name": "crhelper", "version": "2.0.12", "vulns": [{"id": "PYSEC-0000-1", "fix_versions": ["9"]}]}
    ]
}


@pytest.mark.parametrize(
    ("report", "required", "expected", "says"),
    [
        (CLEAN, False, 0, "no known vulnerability"),
        (CLEAN, True, 0, "no known vulnerability"),
        (UNREACHABLE, False, gates.SKIPPED, "*** SKIPPED: sca"),
        (UNREACHABLE, True, 1, "FAILED"),
        (VULNERABLE, False, 1, "PYSEC-0000-1"),
        ({"not": "a report"}, False, gates.SKIPPED, "*** SKIPPED: sca"),
        ({"not": "a report"}, True, 1, "FAILED"),
    ],
)
def test_sca_fails_on_findings_and_never_passes_silently(monkeypatch, capsys, report, required, expected, says):
    _fake_audit(monkeypatch, report)
    assert gates.sca(required) == expected
    assert says in capsys.readouterr().out


def test_sca_without_a_report_is_not_a_pass(monkeypatch, capsys):
    monkeypatch.setattr(gates, "requirement_sets", lambda: {"layer": "crhelper==2.0.12\n"})
    monkeypatch.setattr(
        subprocess, "run", lambda command, **_: subprocess.CompletedProcess(command, 2, "", "network down")
    )
    assert gates.sca(False) == gates.SKIPPED
    assert gates.sca(True) == 1
    assert "network down" in capsys.readouterr().out


# ---------------------------------------------------------------- sbom, hooks
def test_the_functions_sbom_lists_every_function_with_its_hash_on_the_layer():
    document = gates.functions_sbom()
    names = {c["name"] for c in document["components"] if c["type"] == "application"}
    assert names == {p.name for p in (ROOT / "functions").iterdir() if (p / "handler.py").is_file()}
    assert all(len(c["hashes"][0]["content"]) == 64 for c in document["components"] if c["type"] == "application")
    edges = {d["ref"]: d["dependsOn"] for d in document["dependencies"]}
    assert all(edges[f"function:{name}"] == ["layer:SharedLayer"] for name in names)


def test_the_sboms_are_valid_cyclonedx_and_list_the_locked_packages():
    for name in ("layer", "image", "functions"):
        assert (ROOT / ".aws-sam" / "sbom" / f"{name}.cdx.json").is_file(), "make sbom writes them"
    layer = json.loads((ROOT / ".aws-sam" / "sbom" / "layer.cdx.json").read_text())
    locked = {
        line.split("==")[0].lower()
        for line in (ROOT / "layers" / "shared" / "requirements.txt").read_text().splitlines()
        if "==" in line
    }
    assert {c["name"].lower() for c in layer["components"]} == locked
    image = json.loads((ROOT / ".aws-sam" / "sbom" / "image.cdx.json").read_text())
    assert {"gunicorn"} | locked <= {c["name"].lower() for c in image["components"]}


def test_every_commit_hook_runs_a_pinned_local_tool():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert all(repo["repo"] == "local" for repo in config["repos"])  # nothing fetched: works offline
    ids = {hook["id"] for hook in hooks}
    assert {"ruff", "ruff-format", "mypy", "cfn-lint", "secrets", "trailing-whitespace", "end-of-file"} <= ids
    for hook in hooks:
        executable = hook["entry"].split()[0]
        assert (ROOT / executable).is_file(), (hook["id"], executable)
    assert Path(ROOT / ".secrets.baseline").is_file()
