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
from concurrent.futures import ThreadPoolExecutor
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
    """sam build + sam package of a project folder (to moto's S3), and SAM's offline translation."""

    def __init__(self, endpoint: str) -> None:
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

    def identities(self, jobs: dict[str, tuple[Path, dict[str, str]]], scratch: Path) -> dict[str, Identity]:
        """Per job name: function -> (its version's logical id, the version's properties with the
        parameters resolved). One translator start-up for every job."""
        batch: list[dict[str, Any]] = [
            {"source": str(packaged), "parameters": parameters, "target": str(scratch / f"{name}.json")}
            for name, (packaged, parameters) in jobs.items()
        ]
        result = subprocess.run(
            [SAM_PYTHON, ROOT / "scripts" / "translate.py", "--batch"],
            cwd=ROOT,
            env=self.env,
            input=json.dumps(batch),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        found: dict[str, Identity] = {}
        for job in batch:
            translated = json.loads(Path(job["target"]).read_text())
            found[Path(job["target"]).stem] = {
                resource["Properties"]["FunctionName"]["Ref"]: (
                    logical_id,
                    evaluate(resource["Properties"], job["parameters"], translated, sub=True),
                )
                for logical_id, resource in translated["Resources"].items()
                if resource["Type"] == "AWS::Lambda::Version"
            }
        return found


def dev_parameters(**changed: str) -> dict[str, str]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())["dev"]["deploy"]["parameters"]
    return {**dict(item.split("=", 1) for item in config["parameter_overrides"]), **changed}


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


def home_code_and_fixtures(project: Path) -> None:
    """One function's code, and the events/ fixtures, which ship only in the hooks (no alias)."""
    home_code(project)
    path = project / "events" / "expected.json"
    path.write_text(path.read_text().rstrip() + "\n\n")


VARIANTS: dict[str, Callable[[Path], None]] = {
    "rebuild": lambda project: None,
    "layer_code": layer_code,
    "layer_dependencies": layer_dependencies,
    "home_code_and_fixtures": home_code_and_fixtures,
}
PARAMETERS: dict[str, tuple[str, str]] = {
    "LogLevel": ("DEBUG", "every"),
    "ServiceName": ("other-api", "every"),
    "Architecture": ("x86_64", "every"),
    "MaxSleepSeconds": ("10", "SleepFunction"),
    "ShowFullSecret": ("true", "SecretFunction"),
    "SecretParameterName": ("/simple-api/dev/other", "SecretFunction"),
    "SecretValue": ("a-value-the-stack-now-owns", "SecretFunction"),
    "FunctionLatencyP95ThresholdMs": ("500", "none"),
    "LogRetentionDays": ("30", "none"),
}


@pytest.fixture(scope="module")
def identities(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Identity]]:
    """The project packaged as it is and once per variant (each a copy of the built base, so SAM's
    build cache rebuilds only what the change touches; two at a time), then every translation:
    the base with each parameter change, and each variant."""
    port = free_port()
    moto = start_moto(port)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="l", aws_secret_access_key="l"
        ).create_bucket(Bucket=BUCKET)
        scratch = tmp_path_factory.mktemp("versions")
        packager = Packager(endpoint)
        base = copy_project(scratch / "base")
        packaged = {"base": packager.package(base)}

        def variant(name: str) -> Path:
            project = scratch / name
            shutil.copytree(base, project, symlinks=True)
            VARIANTS[name](project)
            return packager.package(project)

        with ThreadPoolExecutor(max_workers=2) as pool:
            packaged.update(zip(VARIANTS, pool.map(variant, VARIANTS), strict=True))
        jobs = {name: (path, dev_parameters()) for name, path in packaged.items()}
        for parameter, (value, _) in PARAMETERS.items():
            jobs[parameter] = (packaged["base"], dev_parameters(**{parameter: value}))
        (scratch / "translated").mkdir()
        yield packager.identities(jobs, scratch / "translated")
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
        ("home_code_and_fixtures", {"HomeFunction"}),
    ],
)
def test_code_changes_publish_exactly_the_functions_they_touch(identities, variant, expected):
    assert changed(identities["base"], identities[variant]) == expected


@pytest.mark.parametrize("parameter", sorted(PARAMETERS))
def test_parameter_changes_publish_exactly_the_functions_they_feed(identities, parameter):
    value, feeds = PARAMETERS[parameter]
    expected = {"every": set(FUNCTIONS), "none": set()}.get(feeds, {feeds})
    assert changed(identities["base"], identities[parameter]) == expected
    assert value not in json.dumps(identities[parameter]) or parameter != "SecretValue"
