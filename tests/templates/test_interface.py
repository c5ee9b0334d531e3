"""Makefile targets are the only interface: CI, CodeBuild and the README use exactly them."""

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import yaml

from host.local import free_port, start_moto, stop
from tests.factories import ROOT

MAKEFILE = (ROOT / "Makefile").read_text()
TARGETS = set(re.findall(r"^([a-z][a-z0-9-]*):", MAKEFILE, flags=re.MULTILINE))


def test_ci_runs_exactly_make_test():
    commands = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ]
    assert commands == ["make test"]


def test_readme_starts_with_the_two_commands_and_names_only_real_targets():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```bash", 1)[1].split("```", 1)[0]
    assert [line.split()[:2] for line in first_block.strip().splitlines()] == [["make", "run"], ["make", "test"]]
    used = set(re.findall(r"`make ([a-z0-9-]+)", readme)) | set(re.findall(r"^make ([a-z0-9-]+)", readme, re.MULTILINE))
    assert used <= TARGETS, used - TARGETS


def test_buildspec_runs_only_make_targets():
    spec = yaml.safe_load((ROOT / "buildspec.yml").read_text())
    commands = [c for phase in spec["phases"].values() for c in phase["commands"]]
    assert commands and all(c.split()[0] == "make" and c.split()[1] in TARGETS for c in commands)
    assert "test" in [c.split()[1] for c in commands]


class FakeSam:
    """A `sam` that records its arguments, for the scripts that would deploy."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "sam"
        self._record = folder / "args"
        self.path.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {self._record}\n")
        self.path.chmod(0o755)

    def arguments(self) -> list[str]:
        return self._record.read_text().splitlines()


@pytest.fixture
def fake_sam(tmp_path: Path) -> FakeSam:
    return FakeSam(tmp_path)


@pytest.fixture
def local_s3() -> Iterator[str]:
    """moto's server on 127.0.0.1 (a free port), stopped after the test."""
    port = free_port()
    server = start_moto(port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop([server])


def test_make_package_uploads_the_code_and_rewrites_the_template(local_s3):
    """What CodeBuild runs, against a local S3: every code location becomes an s3:// URI that exists."""
    s3 = boto3.client("s3", endpoint_url=local_s3)
    s3.create_bucket(Bucket="artifacts")
    environment = {**os.environ, "AWS_ENDPOINT_URL": local_s3, "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        ["make", "package", "ARTIFACT_BUCKET=artifacts", "ARTIFACT_PREFIX=test"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    packaged = Path(ROOT / ".aws-sam" / "packaged.yaml").read_text()
    uris = re.findall(r"(?:CodeUri|ContentUri): (\S+)", packaged)
    from tests.templates.conftest import load_template

    code = [
        r
        for r in load_template()["Resources"].values()
        if r["Type"].startswith("AWS::Serverless::") and r["Type"] != "AWS::Serverless::Api"
    ]
    assert len(uris) == len(code) and all(u.startswith("s3://artifacts/test/") for u in uris), uris
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="artifacts")["Contents"]}
    assert {u.removeprefix("s3://artifacts/") for u in uris} <= keys


def test_the_sam_local_tier_says_skipped_loudly_where_it_cannot_start():
    # nobody may not be able to read the checkout (a clone in a 0700 folder): run a copy of the
    # script from a folder anyone can read
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "scripts"
        folder.mkdir()
        Path(scratch).chmod(0o755)
        folder.chmod(0o755)
        copy = folder / "sam-local-tier.sh"
        shutil.copy(ROOT / "scripts" / "sam-local-tier.sh", copy)
        copy.chmod(0o755)
        script = ["bash", str(copy)]
        if os.geteuid() == 0:  # run it as nobody: it must refuse to start an engine, loudly
            script = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *script]
        result = subprocess.run(script, capture_output=True, text=True, timeout=60, check=False, cwd=scratch)
    assert result.returncode == 77, result.stderr
    assert "*** SKIPPED: sam local tier: needs root" in result.stdout


def test_set_secret_keeps_the_samconfig_parameters_and_never_prints_the_value(fake_sam):
    environment = {**os.environ, "SAM": str(fake_sam.path), "SECRET_VALUE": "rotated-secret-value-77"}
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "scripts" / "set_secret.py"), "prod"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "rotated-secret-value-77" not in result.stdout + result.stderr
    arguments = fake_sam.arguments()
    assert arguments[:3] == ["deploy", "--config-env", "prod"]
    assert "Environment=prod" in arguments and "DeploymentType=Canary10Percent5Minutes" in arguments
    assert arguments[-1] == "SecretValue=rotated-secret-value-77"


def test_ec2_release_uploads_a_versioned_bundle_and_deploys_with_the_variant_on(local_s3, fake_sam):
    s3 = boto3.client("s3", endpoint_url=local_s3)
    s3.create_bucket(Bucket="releases")
    environment = {
        **os.environ,
        "SAM": str(fake_sam.path),
        "AWS_ENDPOINT_URL": local_s3,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "scripts" / "release_ec2.py"), "dev", "releases"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (uploaded,) = [o["Key"] for o in s3.list_objects_v2(Bucket="releases")["Contents"]]
    assert re.fullmatch(r"simple-api/bundles/simple-api-[0-9a-f]{12}\.zip", uploaded)
    arguments = fake_sam.arguments()
    assert "Environment=dev" in arguments and "EnableEc2=true" in arguments
    assert "Ec2BundleBucket=releases" in arguments and f"Ec2BundleKey={uploaded}" in arguments


def test_make_deploy_params_keep_the_samconfig_parameters(fake_sam):
    result = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            str(ROOT / "scripts" / "deploy.py"),
            "prod",
            "EnableFargate=true",
            "DeploymentType=AllAtOnce",
        ],
        env={**os.environ, "SAM": str(fake_sam.path)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    arguments = fake_sam.arguments()
    assert "Environment=prod" in arguments and "EnableFargate=true" in arguments
    assert "DeploymentType=AllAtOnce" in arguments and "DeploymentType=Canary10Percent5Minutes" not in arguments


def _run_buildspec(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "scripts" / "run_buildspec.py"), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_buildspec_runs_locally_phase_by_phase_with_aws_stubbed():
    result = _run_buildspec()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "all phases passed" in result.stdout
    phases = [line.split(":")[0] for line in result.stdout.splitlines() if line.startswith("[buildspec] ")]
    assert phases[:3] == ["[buildspec] install", "[buildspec] pre_build", "[buildspec] build"]


def test_a_typo_in_the_buildspec_fails_here(tmp_path):
    broken = tmp_path / "buildspec.yml"
    broken.write_text((ROOT / "buildspec.yml").read_text().replace("make package", "make pakage"))
    result = _run_buildspec("--buildspec", str(broken))
    assert result.returncode == 1 and "FAILED in build" in result.stdout
