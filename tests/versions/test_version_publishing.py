"""Does a change reach users through a new Lambda version (and so through CodeDeploy, the hook and the
new-version alarms)? Asked the way a deploy asks it: the real `sam build` and `sam package` (to moto's
S3) of a copy of the project with one change each, then SAM's own translator, per parameter set.

CloudFormation publishes a new version when the version resource's logical id changes (SAM hashes the
function's properties and, with the layer's PublishLambdaVersion, the layer's packaged location into
it) or when the version's properties change after parameters are resolved (every property of
AWS::Lambda::Version requires replacement; our VersionDescription names the parameters that feed
each function's configuration). Either counts; the test compares both."""

import json
import os
import shutil
import subprocess
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from host.local import free_port, start_moto, stop
from tests.factories import ROOT
from tests.templates.conftest import api_functions, evaluate, load_template

SAM = ROOT / ".tools" / "sam" / "bin" / "sam"
SAM_PYTHON = ROOT / ".tools" / "sam" / "bin" / "python"
BUCKET = "versions"
FUNCTIONS = sorted(api_functions(load_template()))
Identity = dict[str, tuple[str, Any]]


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [name for name in listed.decode().split("\0") if name and (ROOT / name).exists()]


def copy_project(target: Path) -> Path:
    for name in tracked_files():
        source, destination = ROOT / name, target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            destination.symlink_to(source.readlink())
        else:
            shutil.copy2(source, destination)
    return target


def run(command: list[str | Path], cwd: Path, env: dict[str, str]) -> None:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, f"{command[:3]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"


class Packager:
    """sam build + sam package of a project folder, then the offline translation per parameter set."""

    def __init__(self, endpoint: str, scratch: Path) -> None:
        self.scratch = scratch
        self.env = {
            **os.environ,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
            "SAM_CLI_TELEMETRY": "0",
        }

    def package(self, project: Path) -> Path:
        run([SAM, "build", "--cached", "--parallel"], project, self.env)
        packaged = project / "packaged.yaml"
        run(
            [SAM, "package", "--s3-bucket", BUCKET, "--output-template-file", packaged, "--no-progressbar"],
            project,
            self.env,
        )
        return packaged

    def identities(self, packaged: Path, **parameters: str) -> Identity:
        """Function -> (its version's logical id, the version's properties with parameters resolved)."""
        config = tomllib.loads((ROOT / "samconfig.toml").read_text())["dev"]["deploy"]["parameters"]
        overrides = dict(item.split("=", 1) for item in config["parameter_overrides"])
        overrides.update(parameters)
        samconfig = self.scratch / f"samconfig-{len(list(self.scratch.iterdir()))}.toml"
        items = ", ".join(json.dumps(f"{k}={v}") for k, v in overrides.items())
        samconfig.write_text(f"version = 0.1\n[dev.deploy.parameters]\nparameter_overrides = [{items}]\n")
        translated_path = samconfig.with_suffix(".json")
        run(
            [SAM_PYTHON, ROOT / "scripts" / "translate.py", packaged, samconfig, "dev", translated_path], ROOT, self.env
        )
        translated = json.loads(translated_path.read_text())
        found: Identity = {}
        for logical_id, resource in translated["Resources"].items():
            if resource["Type"] != "AWS::Lambda::Version":
                continue
            function = resource["Properties"]["FunctionName"]["Ref"]
            found[function] = (logical_id, evaluate(resource["Properties"], overrides, translated, sub=True))
        return found


def layer_code(project: Path) -> None:
    with (project / "layers" / "shared" / "simple_api" / "settings.py").open("a") as file:
        file.write("\n# a change of the core package only\n")


def layer_dependencies(project: Path) -> None:
    """Drop one locked dependency (crhelper, with its hash lines) from the layer's requirements."""
    path = project / "layers" / "shared" / "requirements.txt"
    kept, skipping = [], False
    for line in path.read_text().splitlines():
        if not line.startswith(" "):
            skipping = line.startswith("crhelper==")
        if not skipping:
            kept.append(line)
    path.write_text("\n".join(kept) + "\n")


def home_code(project: Path) -> None:
    with (project / "functions" / "home" / "handler.py").open("a") as file:
        file.write("\n# a change of one function's code\n")


def fixture_only(project: Path) -> None:
    """The events/ fixtures ship in the PreTraffic hook, which has no alias: no API function changes."""
    path = project / "events" / "expected.json"
    path.write_text(path.read_text().rstrip() + "\n\n")


VARIANTS: dict[str, Callable[[Path], None]] = {
    "rebuild": lambda project: None,
    "layer_code": layer_code,
    "layer_dependencies": layer_dependencies,
    "home_code": home_code,
    "fixture_only": fixture_only,
}


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Packager, dict[str, Path]]]:
    """The project packaged as it is, and once per variant (each a copy of the built base, so SAM's
    build cache rebuilds only what the change touches)."""
    port = free_port()
    moto = start_moto(port)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="l", aws_secret_access_key="l"
        ).create_bucket(Bucket=BUCKET)
        scratch = tmp_path_factory.mktemp("versions")
        packager = Packager(endpoint, scratch / "config")
        packager.scratch.mkdir()
        base = copy_project(scratch / "base")
        results = {"base": packager.package(base)}
        for name, change in VARIANTS.items():
            project = scratch / name
            shutil.copytree(base, project, symlinks=True)
            change(project)
            results[name] = packager.package(project)
        yield packager, results
    finally:
        stop([moto])


def changed(before: Identity, after: Identity) -> set[str]:
    assert set(before) == set(after) == set(FUNCTIONS)
    return {name for name in FUNCTIONS if before[name] != after[name]}


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("rebuild", set()),
        ("layer_code", set(FUNCTIONS)),
        ("layer_dependencies", set(FUNCTIONS)),
        ("home_code", {"HomeFunction"}),
        ("fixture_only", set()),
    ],
)
def test_code_changes_publish_exactly_the_functions_they_touch(packaged, variant, expected):
    packager, results = packaged
    assert changed(packager.identities(results["base"]), packager.identities(results[variant])) == expected


@pytest.mark.parametrize(
    ("parameter", "value", "expected"),
    [
        ("LogLevel", "DEBUG", set(FUNCTIONS)),
        ("ServiceName", "other-api", set(FUNCTIONS)),
        ("Architecture", "x86_64", set(FUNCTIONS)),
        ("MaxSleepSeconds", "10", {"SleepFunction"}),
        ("ShowFullSecret", "true", {"SecretFunction"}),
        ("SecretParameterName", "/simple-api/dev/other", {"SecretFunction"}),
        ("SecretValue", "a-value-the-stack-now-owns", {"SecretFunction"}),
        ("FunctionLatencyP95ThresholdMs", "500", set()),
        ("LogRetentionDays", "30", set()),
    ],
)
def test_parameter_changes_publish_exactly_the_functions_they_feed(packaged, parameter, value, expected):
    packager, results = packaged
    before = packager.identities(results["base"])
    after = packager.identities(results["base"], **{parameter: value})
    assert changed(before, after) == expected
    assert all(value not in json.dumps(after[name]) for name in FUNCTIONS if parameter == "SecretValue")
