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
from tests.templates.conftest import SOURCES, FakeCommand

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


#: a shell with no AWS credentials anywhere: sam goes as far as it can without an account
NO_CREDENTIALS = {
    **{key: value for key, value in os.environ.items() if not key.startswith("AWS_")},
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_DEFAULT_REGION": "us-east-1",
    "SAM_DEBUG": "true",  # sam then logs the arguments it expanded from samconfig.toml
}


#: a built template of each flavour, as the deploy target finds it under BUILD_DIR, from a source
#: nothing rewrites while the unit tests run (the buildspec test runs sam build into .aws-sam/build)
BUILT = {
    "deploy": ("build/template.yaml", "template.yaml"),
    "chalice-deploy": ("chalice/build/template.yaml", SOURCES["chalice"]),
}


def run_make(*arguments: str, stdin: str = "") -> tuple[int, str]:
    result = subprocess.run(
        ["make", *arguments],
        cwd=ROOT,
        env=NO_CREDENTIALS,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def expanded_arguments(output: str) -> str:
    """The line after sam's "Expand command line arguments to:" debug line."""
    lines = output.splitlines()
    (at,) = [i for i, line in enumerate(lines) if line.endswith("Expand command line arguments to:")]
    return lines[at + 1]


@pytest.mark.parametrize(
    ("target", "env", "stack", "deployment_type"),
    [
        ("deploy", "prod", "aws-cicd-prod", "Canary10Percent5Minutes"),
        ("chalice-deploy", "dev", "aws-cicd-chalice-dev", "AllAtOnce"),
    ],
)
def test_make_deploy_runs_the_real_sam_with_the_sections_parameters_up_to_the_credentials(
    target, env, stack, deployment_type, tmp_path
):
    """SAM finds samconfig.toml next to --template-file (.aws-sam/...) or in the cwd without one; the
    deploy targets must still read the section ENV: same parameters, their own stack name."""
    built, source = BUILT[target]
    if not (ROOT / source).exists():
        pytest.fail(f"{source} is missing: make test builds it before the unit tests")
    (tmp_path / built).parent.mkdir(parents=True)
    shutil.copy(ROOT / source, tmp_path / built)
    # -o: the build counts as done, so this runs only the deploy recipe, on the template under BUILD_DIR
    code, output = run_make("-o", "build", "-o", f"{tmp_path}/{built}", target, f"ENV={env}", f"BUILD_DIR={tmp_path}")
    assert code != 0 and "Error: Unable to locate credentials" in output, output[-3000:]
    arguments = expanded_arguments(output)
    assert f"--template_file={tmp_path / built} " in arguments
    assert f"--stack_name={stack} " in arguments
    assert f"'Environment': '{env}'" in arguments and f"'DeploymentType': '{deployment_type}'" in arguments
    assert f"'environment': '{env}'" in arguments  # the section's tags
    if target == "chalice-deploy":
        assert f"--s3_prefix={stack} " in arguments  # its uploads apart from the SAM stack's


def test_make_chalice_destroy_asks_about_the_chalice_stack_only():
    code, output = run_make("chalice-destroy", "ENV=prod", stdin="n\n")
    assert "delete the stack aws-cicd-chalice-prod in the region us-east-1 ? [y/N]" in output, output[-3000:]
    assert "--stack_name=aws-cicd-chalice-prod " in expanded_arguments(output)
    assert code == 0 and "credentials" not in output  # "no": nothing was tried
