"""Makefile targets are the only interface: CI, CodeBuild and the README use exactly them."""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import boto3
import pytest

from tests.factories import ROOT
from tests.templates.conftest import FakeCommand

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


@pytest.fixture
def fake_sam(tmp_path: Path) -> FakeCommand:
    return FakeCommand(tmp_path, "sam")


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
