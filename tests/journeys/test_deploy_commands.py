"""Every deploy-related make target and the README's guided line, run for real up to the point where
only AWS is missing: each must have read samconfig.toml's section for its environment (stack name,
parameters, tags), then stop at SAM's missing-credentials error.

`make -o build ...` runs a target's own recipe without re-running `sam build` (the build stage of
`make test` has just built; pytest runs these tests in parallel with others that read that build)."""

import hashlib
import json
import re
import secrets
from pathlib import Path

import boto3
import pytest

from scripts.samconfig import parameter_values, tags
from tests.factories import ROOT
from tests.journeys.conftest import (
    NO_CREDENTIALS,
    forwarding_sam,
    recorded_argv,
    run,
    sam_expansion,
    samconfig_bytes,
)
from tests.journeys.conversation import Conversation, Prompt, converse

ENVIRONMENTS = ("dev", "prod")
STACKS = {"dev": "aws-cicd-dev", "prod": "aws-cicd-prod", "pipeline": "aws-cicd-pipeline"}


def debug(env: dict[str, str]) -> dict[str, str]:
    return {**env, "SAM_DEBUG": "true"}


def assert_reads_the_section(output: str, environment: str, **changed: str) -> None:
    expanded = sam_expansion(output)
    assert expanded.stack_name == STACKS[environment]
    assert expanded.template_file == str(ROOT / ".aws-sam" / "build" / "template.yaml")
    assert expanded.parameters == {**parameter_values(environment), **changed}
    assert expanded.tags == tags(environment)
    assert NO_CREDENTIALS in output, output[-2000:]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_make_deploy_reads_the_environments_section(user_env, environment):
    code, output = run(["make", "-o", "build", "deploy", f"ENV={environment}"], debug(user_env))
    assert code != 0
    assert_reads_the_section(output, environment)
    # the command the user would type, and nothing else: no --template-file that moves the config
    assert f"Loading configuration values from [{environment}.['deploy'].parameters]" in output
    assert f"Config file location: {ROOT / 'samconfig.toml'}" in output


def test_make_deploy_params_replace_or_add_to_the_sections_parameters(user_env):
    code, output = run(
        ["make", "-o", "build", "deploy", "ENV=prod", "PARAMS=EnableFargate=true DeploymentType=AllAtOnce"],
        debug(user_env),
    )
    assert code != 0
    assert_reads_the_section(output, "prod", EnableFargate="true", DeploymentType="AllAtOnce")


def test_make_set_secret_passes_the_value_to_sam_by_a_private_file_only(user_env, tmp_path):
    value = "piped-" + secrets.token_hex(12)
    sam = forwarding_sam(tmp_path)
    command = ["make", "-o", "build", "set-secret", "ENV=dev", f"SAM={sam}"]
    code, output = run(command, debug(user_env), stdin=value)
    assert code != 0
    assert_reads_the_section(output, "dev", SecretValue=value)  # SAM's own debug log may show it
    argv = recorded_argv(tmp_path)
    assert value not in "\n".join(argv)
    (reference,) = [word for word in argv if word.startswith("file://")]
    assert not Path(reference.removeprefix("file://")).exists(), "the parameters file outlived the deploy"
    # without SAM's debug log the value is printed nowhere
    code, output = run(command, user_env, stdin=value)
    assert code != 0 and NO_CREDENTIALS in output and value not in output


def test_make_set_secret_refuses_an_empty_value(user_env):
    code, output = run(["make", "-o", "build", "set-secret", "ENV=dev"], user_env, stdin="")
    assert code != 0 and "no value given; nothing deployed" in output


def test_make_ec2_release_uploads_the_bundle_then_deploys_with_the_variant_on(user_env, local_s3, tmp_path):
    s3 = boto3.client("s3", endpoint_url=local_s3, region_name="us-east-1")
    s3.create_bucket(Bucket="releases")
    sam = forwarding_sam(tmp_path)
    moto = {"AWS_ENDPOINT_URL": local_s3, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    code, output = run(
        ["make", "-o", "build", "ec2-release", "ENV=dev", "BUCKET=releases", f"SAM={sam}"],
        debug({**user_env, **moto}),
        timeout=300,
    )
    assert code != 0
    assert "uploaded s3://releases/" in output, output[-3000:]
    (uploaded,) = [o["Key"] for o in s3.list_objects_v2(Bucket="releases")["Contents"]]
    assert re.fullmatch(r"simple-api/bundles/simple-api-[0-9a-f]{12}\.zip", uploaded)
    content = s3.get_object(Bucket="releases", Key=uploaded)["Body"].read()
    assert_reads_the_section(
        output,
        "dev",
        EnableEc2="true",
        Ec2BundleBucket="releases",
        Ec2BundleKey=uploaded,
        Ec2BundleSha256=hashlib.sha256(content).hexdigest(),
    )


def test_make_destroy_asks_then_deletes_the_environments_stack(user_env):
    talk = converse(["make", "destroy", "ENV=prod"], lambda prompt: "y", cwd=ROOT, env=debug(user_env), timeout=120)
    assert talk.returncode != 0
    (asked,) = [p.label for p in talk.prompts]
    assert "delete the stack aws-cicd-prod" in asked
    assert NO_CREDENTIALS in talk.transcript


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_make_teardown_asks_the_pipeline_stack_then_stops_at_the_credentials(user_env, environment):
    code, output = run(["make", "teardown", f"ENV={environment}"], user_env)
    assert code != 0
    assert f"make teardown: {NO_CREDENTIALS}" in output and "Traceback" not in output, output[-2000:]


@pytest.mark.parametrize("value", ["staging", "", "prod dev"])
def test_make_teardown_names_only_an_environment(user_env, value):
    code, output = run(["make", "teardown", f"ENV={value}"], user_env)
    assert code != 0 and "usage: make teardown ENV=dev|prod" in output and NO_CREDENTIALS not in output


# ---------------------------------------------------------------- the Chalice flavour

CHALICE_BUILT = ".aws-sam/chalice/build/template.yaml"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_make_chalice_deploy_reads_the_section_for_its_own_stack_and_upload_prefix(user_env, environment):
    if not (ROOT / CHALICE_BUILT).exists():
        pytest.fail(f"{CHALICE_BUILT} is missing: make test packages the Chalice flavour first")
    code, output = run(["make", "-o", CHALICE_BUILT, "chalice-deploy", f"ENV={environment}"], debug(user_env))
    assert code != 0
    expanded = sam_expansion(output)
    stack = f"aws-cicd-chalice-{environment}"
    assert (expanded.stack_name, expanded.template_file) == (stack, str(ROOT / CHALICE_BUILT))
    assert f"--s3_prefix={stack} " in output  # its uploads apart from the SAM stack's
    assert expanded.parameters == parameter_values(environment)
    assert expanded.tags == tags(environment)
    assert f"Loading configuration values from [{environment}.['deploy'].parameters]" in output
    assert NO_CREDENTIALS in output, output[-2000:]


def test_make_chalice_deploy_refuses_a_secret_value_sam_would_print(user_env):
    """The Chalice template declares no SecretValue, so sam deploy would print a given one in clear
    (it masks only the template's NoEcho parameters; the emulator tier caught it in its log)."""
    value = "chalice-" + secrets.token_hex(8)
    code, output = run(
        ["make", "-o", CHALICE_BUILT, "chalice-deploy", "ENV=dev", f"PARAMS=SecretValue={value}"], debug(user_env)
    )
    assert code != 0
    assert "takes no SecretValue" in output
    assert "Loading configuration" not in output  # stopped before SAM ran
    assert value not in output.replace(f"SecretValue={value}", "")  # beyond make's echo of its own command


def test_make_chalice_destroy_asks_about_the_chalice_stack_only(user_env):
    talk = converse(
        ["make", "chalice-destroy", "ENV=prod"], lambda prompt: "n", cwd=ROOT, env=debug(user_env), timeout=120
    )
    (asked,) = [p.label for p in talk.prompts]
    assert "delete the stack aws-cicd-chalice-prod" in asked
    assert talk.returncode == 0 and "credentials" not in talk.transcript  # "no": nothing was tried


# ---------------------------------------------------------------- the README's guided deploy
def readme_walkthrough() -> dict[str, str | None]:
    """The README's table of guided prompts that need an answer other than Enter: prompt label ->
    the literal answer, or None where the user types a secret of their own."""
    readme = (ROOT / "README.md").read_text()
    table = readme.split("| SAM asks | answer |", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines()[2:]:
        asked, answer = (cell.strip() for cell in line.strip().strip("|").split("|"))
        label = re.sub(r"( \[[^\]]*\])?:?$", "", asked.split("`")[1]).removeprefix("…").strip()
        literal = re.search(r"^`([^`]+)`", answer)
        rows[label] = literal.group(1) if literal else None
    return rows


def readme_guided_line(environment: str) -> list[str]:
    readme = (ROOT / "README.md").read_text()
    (line,) = set(re.findall(r"^sam deploy --guided[^\n#]*", readme, re.MULTILINE))
    words = line.split()
    assert words[-2:] == ["--config-env", "dev"], "the README's guided line deploys dev"
    return [*words[:-1], environment]


def guided(command: list[str], env: dict[str, str], secret: str) -> Conversation:
    walkthrough = readme_walkthrough()
    used: set[str] = set()

    def answer(prompt: Prompt) -> str:
        for label, literal in walkthrough.items():
            if prompt.label.endswith(label):
                used.add(label)
                return secret if literal is None else literal
        return ""  # Enter: the offered default

    talk = converse(command, answer, cwd=ROOT, env=env, timeout=180)
    assert used == set(walkthrough), f"the README documents prompts SAM never asked: {set(walkthrough) - used}"
    return talk


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_readmes_guided_deploy_offers_the_environments_values_and_finishes(user_env, environment):
    before = samconfig_bytes()
    secret = "typed-" + secrets.token_hex(12)
    talk = guided(readme_guided_line(environment), user_env, secret)
    assert talk.returncode != 0
    assert "Looking for config file [samconfig.toml] :  Found" in talk.transcript
    assert talk.default_of("Stack Name") == STACKS[environment]
    for name, value in parameter_values(environment).items():
        assert talk.default_of(f"Parameter {name}") == value, name
    assert talk.default_of("Parameter SecretValue") is None  # masked: no default shown, input not echoed
    assert secret not in talk.transcript
    assert talk.default_of("SAM configuration environment") == environment
    assert "Signing Profile Name" not in talk.labels()
    assert "Looking for resources needed for deployment" in talk.transcript
    assert NO_CREDENTIALS in talk.transcript
    assert samconfig_bytes() == before


def test_a_bare_guided_deploy_is_devs(user_env):
    """`sam deploy --guided` as typed, with no --config-env: SAM reads the default section, which
    must offer dev's stack, parameters and tags (a test below holds it equal to dev's)."""
    before = samconfig_bytes()
    secret = "typed-" + secrets.token_hex(12)
    talk = guided(["sam", "deploy", "--guided"], user_env, secret)
    assert talk.returncode != 0
    assert "Looking for config file [samconfig.toml] :  Found" in talk.transcript
    assert talk.default_of("Stack Name") == STACKS["dev"]
    for name, value in parameter_values("dev").items():
        assert talk.default_of(f"Parameter {name}") == value, name
    assert secret not in talk.transcript
    assert talk.default_of("SAM configuration environment") == "default"
    assert NO_CREDENTIALS in talk.transcript
    assert samconfig_bytes() == before


def test_the_default_deploy_section_is_devs():
    import tomllib

    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    assert config["default"]["deploy"] == config["dev"]["deploy"]
    assert config["default"]["global"] == config["dev"]["global"]


# ---------------------------------------------------------------- the pipeline's bootstrap
def test_make_pipeline_builds_then_guides_a_deploy_from_the_pipeline_section(user_env):
    before = samconfig_bytes()
    talk = converse(["make", "pipeline"], lambda prompt: "", cwd=ROOT, env=user_env, timeout=300)
    assert talk.returncode != 0
    assert "Build Succeeded" in talk.transcript
    assert f"Looking for config file [{ROOT / 'samconfig.toml'}] :  Found" in talk.transcript
    assert talk.default_of("Stack Name") == STACKS["pipeline"]
    assert talk.default_of("SAM configuration file") == str(ROOT / "samconfig.toml")
    assert talk.default_of("SAM configuration environment") == "pipeline"
    assert "Parameter GitHubOwner" in talk.labels()
    assert NO_CREDENTIALS in talk.transcript
    assert samconfig_bytes() == before


def test_make_pipeline_destroy_empties_the_stores_then_deletes_the_pipeline_stack(user_env, local_s3, tmp_path):
    moto = {"AWS_ENDPOINT_URL": local_s3, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")
    s3 = session.client("s3", endpoint_url=local_s3)
    s3.create_bucket(Bucket="artifacts")
    s3.put_bucket_versioning(Bucket="artifacts", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="artifacts", Key="aws-cicd/x/template.yaml", Body=b"x")
    template = json.dumps(
        {"Resources": {"T": {"Type": "AWS::SNS::Topic"}}, "Outputs": {"ArtifactBucket": {"Value": "artifacts"}}}
    )
    session.client("cloudformation", endpoint_url=local_s3).create_stack(
        StackName="aws-cicd-pipeline", TemplateBody=template
    )
    sam = forwarding_sam(tmp_path)
    env = {**user_env, **moto}
    talk = converse(["make", "pipeline-destroy", f"SAM={sam}"], lambda prompt: "y", cwd=ROOT, env=env)
    assert "s3://artifacts: 1 object versions deleted" in talk.transcript
    assert "Versions" not in s3.list_object_versions(Bucket="artifacts")
    (asked,) = [p.label for p in talk.prompts]
    assert "delete the stack aws-cicd-pipeline" in asked
    assert NO_CREDENTIALS in talk.transcript and talk.returncode != 0
