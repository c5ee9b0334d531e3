"""The scripts the pipeline's CodeBuild projects and its bootstrap run, against moto in-process."""

import base64
import hashlib
import io
import json
import os
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from scripts import api_canary_watch, pipeline_artifacts, pipeline_clean, put_secret
from simple_api.adapters.ssm import SsmParameterWriter
from tests.contract import conftest as contract
from tests.factories import ROOT
from tests.templates.conftest import FakeCommand

COMMIT = "3f9c2ab0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6"


@pytest.fixture
def aws():
    with mock_aws():
        yield


# ---------------------------------------------------------------- pipeline_artifacts
@pytest.fixture
def build_world(aws, tmp_path, monkeypatch):
    """Bucket, fake bundle and wheelhouse builders (the real ones need PyPI), a recording docker."""
    boto3.client("s3").create_bucket(Bucket="artifacts")
    monkeypatch.setattr(pipeline_artifacts, "OUTPUT", tmp_path / "pipeline")

    def fake_build(output, platform, uv, python):
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(b"PK bundle for " + platform.encode())
        return "0a1b2c3d4e5f"

    monkeypatch.setattr(pipeline_artifacts, "build", fake_build)
    monkeypatch.setattr(pipeline_artifacts, "wheelhouse", lambda target, *rest: target.mkdir(parents=True))
    docker = FakeCommand(tmp_path, "docker")
    monkeypatch.setenv("DOCKER", str(docker.path))
    monkeypatch.setenv("CODEBUILD_RESOLVED_SOURCE_VERSION", COMMIT)
    monkeypatch.setenv("ARTIFACT_BUCKET", "artifacts")
    monkeypatch.delenv("ARTIFACT_PREFIX", raising=False)
    monkeypatch.setattr(pipeline_artifacts, "ROOT", tmp_path)  # .wheels/ goes to the scratch folder
    return docker


def _configuration(tmp_path, env):
    return json.loads((tmp_path / "pipeline" / f"{env}.json").read_text())


def test_without_variants_the_configurations_carry_samconfig_values_and_tags(build_world, tmp_path, monkeypatch):
    monkeypatch.setenv("ENABLE_EC2", "false")
    monkeypatch.setenv("ENABLE_FARGATE", "false")
    assert pipeline_artifacts.main() == 0
    dev, prod = _configuration(tmp_path, "dev"), _configuration(tmp_path, "prod")
    assert dev["Parameters"]["Environment"] == "dev" and prod["Parameters"]["Environment"] == "prod"
    assert dev["Tags"] == {"project": "aws-cicd", "environment": "dev"}
    assert "Ec2BundleKey" not in dev["Parameters"] and "FargateImageTag" not in prod["Parameters"]
    assert build_world.calls() == []
    template_parameters = set(_template_parameters())
    assert set(dev["Parameters"]) <= template_parameters and set(prod["Parameters"]) <= template_parameters


def _template_parameters():
    from tests.templates.conftest import load_template

    return load_template()["Parameters"]


def test_ec2_uploads_one_bundle_under_the_commit_readable_without_the_pipeline_key(build_world, tmp_path, monkeypatch):
    monkeypatch.setenv("ENABLE_EC2", "true")
    monkeypatch.setenv("ENABLE_FARGATE", "false")
    assert pipeline_artifacts.main() == 0
    dev, prod = _configuration(tmp_path, "dev")["Parameters"], _configuration(tmp_path, "prod")["Parameters"]
    assert dev["Ec2BundleKey"] == prod["Ec2BundleKey"] == f"aws-cicd/{COMMIT}/ec2/simple-api-0a1b2c3d4e5f.zip"
    assert dev["Ec2BundleBucket"] == "artifacts"
    head = boto3.client("s3").head_object(Bucket="artifacts", Key=dev["Ec2BundleKey"])
    assert head["ServerSideEncryption"] == "AES256"
    uploaded = boto3.client("s3").get_object(Bucket="artifacts", Key=dev["Ec2BundleKey"])["Body"].read()
    assert dev["Ec2BundleSha256"] == prod["Ec2BundleSha256"] == hashlib.sha256(uploaded).hexdigest()


def test_fargate_builds_for_arm64_tags_with_the_commit_and_pushes_once(build_world, tmp_path, monkeypatch):
    monkeypatch.setenv("ENABLE_EC2", "false")
    monkeypatch.setenv("ENABLE_FARGATE", "true")
    monkeypatch.setenv("IMAGE_REPOSITORY", "aws-cicd-pipeline-images")
    assert pipeline_artifacts.main() == 0
    login, build, push = build_world.calls()
    assert (login[0], build[0], push[0]) == ("login", "build", "push")
    pushed = push[1]
    assert pushed.endswith(f"/aws-cicd-pipeline-images:{COMMIT}")
    assert build[build.index("--platform") + 1] == "linux/arm64" and build[build.index("-t") + 1] == pushed
    assert f"BASE_IMAGE={pipeline_artifacts.DEFAULT_BASE_IMAGE}" in build
    for env in ("dev", "prod"):  # built once, promoted unchanged
        parameters = _configuration(tmp_path, env)["Parameters"]
        assert parameters["FargateImageTag"] == COMMIT
        assert parameters["FargateImageRepository"] == "aws-cicd-pipeline-images"


@pytest.mark.parametrize("flag", ["yes", "TRUE ", "1", "on"])
def test_a_malformed_flag_stops_the_build_with_its_name(build_world, monkeypatch, flag):
    monkeypatch.setenv("ENABLE_EC2", flag)
    if flag.strip().lower() == "true":
        monkeypatch.setenv("ENABLE_FARGATE", "false")
        assert pipeline_artifacts.main() == 0
        return
    with pytest.raises(SystemExit, match="ENABLE_EC2 must be true or false"):
        pipeline_artifacts.main()


def test_fargate_without_a_repository_stops_the_build(build_world, monkeypatch):
    monkeypatch.setenv("ENABLE_FARGATE", "true")
    monkeypatch.setenv("IMAGE_REPOSITORY", "")
    with pytest.raises(SystemExit, match="IMAGE_REPOSITORY is not set"):
        pipeline_artifacts.main()


# ---------------------------------------------------------------- pipeline_clean
def test_clean_deletes_every_version_and_delete_marker(aws):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="artifacts")
    s3.put_bucket_versioning(Bucket="artifacts", VersioningConfiguration={"Status": "Enabled"})
    for number in range(3):
        s3.put_object(Bucket="artifacts", Key="aws-cicd/a/template.yaml", Body=str(number).encode())
    s3.put_object(Bucket="artifacts", Key="build-cache/x", Body=b"x")
    s3.delete_object(Bucket="artifacts", Key="build-cache/x")  # leaves a delete marker
    assert pipeline_clean.empty_bucket(s3, "artifacts") == 5
    listing = s3.list_object_versions(Bucket="artifacts")
    assert not listing.get("Versions") and not listing.get("DeleteMarkers")
    s3.delete_bucket(Bucket="artifacts")  # what CloudFormation does next now succeeds


def test_clean_of_missing_things_is_a_no_op(aws):
    assert pipeline_clean.empty_bucket(boto3.client("s3"), "no-such-bucket") == 0
    assert pipeline_clean.empty_repository(boto3.client("ecr"), "no-such-repository") == 0


def test_clean_deletes_every_image(aws):
    ecr = boto3.client("ecr")
    ecr.create_repository(repositoryName="images")
    for tag in ("a1", "b2", "c3"):
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"digest": f"sha256:{tag * 32}"},
                "layers": [],
            }
        )
        ecr.put_image(repositoryName="images", imageManifest=manifest, imageTag=tag)
    assert pipeline_clean.empty_repository(ecr, "images") == 3
    assert ecr.list_images(repositoryName="images")["imageIds"] == []


def test_clean_reads_the_bucket_and_repository_from_the_pipeline_stack(aws, capsys):
    boto3.client("s3").create_bucket(Bucket="artifacts")
    boto3.client("s3").put_object(Bucket="artifacts", Key="k", Body=b"v")
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"ArtifactBucket": {"Value": "artifacts"}},
    }
    boto3.client("cloudformation").create_stack(StackName="aws-cicd-pipeline", TemplateBody=json.dumps(template))
    assert pipeline_clean.main(["--stack", "aws-cicd-pipeline"]) == 0
    assert "s3://artifacts: 1 object versions deleted" in capsys.readouterr().out


def test_clean_without_a_bucket_says_how_to_call_it(aws, monkeypatch, capsys):
    monkeypatch.delenv("ARTIFACT_BUCKET", raising=False)
    assert pipeline_clean.main([]) == 2
    assert "usage" in capsys.readouterr().err


# ---------------------------------------------------------------- put_secret
def test_put_secret_writes_a_securestring_under_samconfigs_name_and_never_prints_it(aws, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("correct-horse-battery-staple-42\n"))
    assert put_secret.main(["prod"]) == 0
    ssm = boto3.client("ssm")
    found = ssm.get_parameter(Name="/simple-api/prod/secret", WithDecryption=True)["Parameter"]
    assert found["Type"] == "SecureString" and found["Value"] == "correct-horse-battery-staple-42"
    output = capsys.readouterr()
    assert "correct-horse" not in output.out + output.err
    assert put_secret.main(["prod", "--delete"]) == 0
    assert put_secret.main(["prod", "--delete"]) == 0
    assert "was not there" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [[], ["staging"], ["--delete"]])
def test_put_secret_refuses_unknown_environments(aws, argv):
    assert put_secret.main(argv) == 2


class _DeniedSsm:
    def put_parameter(self, **arguments):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": arguments["Value"]}}, "PutParameter")


def test_put_secret_reports_a_refusal_without_the_value(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("correct-horse-battery-staple-42"))
    monkeypatch.setattr(put_secret, "SsmParameterWriter", lambda: SsmParameterWriter(client=_DeniedSsm()))
    assert put_secret.main(["dev", "00000000-0000-0000-0000-000000000000"]) == 1
    output = capsys.readouterr()
    assert "put_parameter failed" in output.err and "correct-horse" not in output.out + output.err


# ---------------------------------------------------------------- the contract suite's stack targets
def test_contract_targets_are_every_url_output_of_the_stack_in_order(aws, monkeypatch):
    outputs = {"FargateUrl": "http://fargate", "DashboardUrl": "https://console", "ApiUrl": "https://api"}
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation").create_stack(StackName="aws-cicd-dev", TemplateBody=json.dumps(template))
    monkeypatch.setattr(contract, "CALLER_ENVIRONMENT", dict(os.environ))
    contract.stack_urls.cache_clear()
    assert contract.stack_urls("aws-cicd-dev") == {"ApiUrl": "https://api", "FargateUrl": "http://fargate"}


def test_a_stack_without_an_api_url_is_a_usage_error(aws, monkeypatch):
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}, "Outputs": {"Other": {"Value": "x"}}}
    boto3.client("cloudformation").create_stack(StackName="other", TemplateBody=json.dumps(template))
    monkeypatch.setattr(contract, "CALLER_ENVIRONMENT", dict(os.environ))
    contract.stack_urls.cache_clear()
    with pytest.raises(pytest.UsageError, match="no ApiUrl"):
        contract.stack_urls("other")


def test_the_ecr_login_token_is_decoded_not_logged(build_world, monkeypatch, capsys):
    monkeypatch.setenv("ENABLE_FARGATE", "true")
    monkeypatch.setenv("IMAGE_REPOSITORY", "images")
    assert pipeline_artifacts.main() == 0
    token = boto3.client("ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
    password = base64.b64decode(token).decode().split(":", 1)[1]
    output = capsys.readouterr()
    recorded = [word for call in build_world.calls() for word in call]
    assert password not in output.out + output.err and password not in recorded
    assert (ROOT / "scripts" / "pipeline_artifacts.py").read_text().count("--password-stdin") == 1


# ---------------------------------------------------------------- teardown
def _stubbed_codepipeline(expected_variables):
    from botocore.stub import Stubber

    client = boto3.client("codepipeline", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)  # checks the request against the service's own model
    stubber.add_response(
        "start_pipeline_execution",
        {"pipelineExecutionId": "0123abcd-0000-4000-8000-000000000000"},
        {"name": "aws-cicd-teardown", "variables": expected_variables},
    )
    return client, stubber


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_teardown_starts_the_teardown_pipeline_with_the_values_its_entry_rules_require(env):
    from scripts import teardown
    from tests.templates.test_pipeline import deleted

    variables = [{"name": "Environment", "value": env}, {"name": "Confirm", "value": "delete"}]
    client, stubber = _stubbed_codepipeline(variables)
    with stubber:
        assert teardown.start(client, "aws-cicd-teardown", env) == "0123abcd-0000-4000-8000-000000000000"
    stubber.assert_no_pending_responses()
    # what it sends deletes that environment's stack, with that environment's role
    assert deleted({v["name"]: v["value"] for v in variables}) == [
        (f"${{StackPrefix}}-{env}", f"{env.title()}ExecutionRole")
    ]


@pytest.mark.parametrize("env", ["", "pipeline", "Prod", "dev prod"])
def test_teardown_refuses_anything_but_an_environment(env, capsys):
    from scripts import teardown

    with pytest.raises(ValueError, match="dev or prod"):
        teardown.start(None, "aws-cicd-teardown", env)
    assert teardown.main([env]) == 2
    assert "usage: make teardown ENV=dev|prod" in capsys.readouterr().err


def test_teardown_reads_the_pipeline_stacks_output_and_says_when_there_is_none(aws, capsys):
    from scripts import teardown

    cloudformation = boto3.client("cloudformation")
    body = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}, "Outputs": {"ArtifactBucket": {"Value": "b"}}}
    cloudformation.create_stack(StackName="aws-cicd-pipeline", TemplateBody=json.dumps(body))
    assert teardown.main(["dev", "--stack", "aws-cicd-pipeline"]) == 1
    assert "has no teardown pipeline" in capsys.readouterr().err


# ---------------------------------------------------------------- api_canary_watch (DeployProd/ApiCanary)
RELEASE = "8c2f1a7e-release"
SINCE = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def stack_event(logical_id: str, status: str, minute: int, reason: str = "", release: str | None = None):
    event = {"LogicalResourceId": logical_id, "ResourceStatus": status, "Timestamp": SINCE + timedelta(minutes=minute)}
    if reason:
        event["ResourceStatusReason"] = reason
    if release is not None:
        event["ResourceProperties"] = json.dumps({"ServiceToken": "arn:aws:lambda:...", "Release": release})
    return event


def described(status: str, **outputs: str):
    return {
        "StackName": "aws-cicd-prod",
        "StackStatus": status,
        "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()],
    }


def test_the_watch_waits_until_this_releases_update_has_shown_up_and_ended():
    running = described("UPDATE_IN_PROGRESS") | {
        "Parameters": [{"ParameterKey": "ReleaseId", "ParameterValue": RELEASE}]
    }
    assert api_canary_watch.is_ours(running, RELEASE) and not api_canary_watch.is_ours(running, "other")
    assert api_canary_watch.judge(running, [], RELEASE, seen_ours=True) is None
    earlier = described("UPDATE_ROLLBACK_COMPLETE")  # a failure before this release's update showed up
    assert api_canary_watch.judge(earlier, [], RELEASE, seen_ours=False) is None


def test_the_watch_passes_with_the_outcome_the_canary_left_for_this_release():
    stack = described("UPDATE_COMPLETE", ApiCanaryRelease=RELEASE, ApiCanaryOutcome="promoted d2 (replacing d1)")
    verdict = api_canary_watch.judge(stack, [], RELEASE, seen_ours=False)
    assert verdict == api_canary_watch.Verdict(True, "aws-cicd-prod UPDATE_COMPLETE: promoted d2 (replacing d1)")


def test_the_watch_fails_with_the_canarys_reason_as_soon_as_it_rolled_back():
    events = [
        stack_event(
            "ApiStageCanary", "UPDATE_FAILED", 12, "rolled back: aws-cicd-prod-api-canary-5xx in ALARM", RELEASE
        ),
        stack_event("ApiStageCanary", "UPDATE_IN_PROGRESS", 7, release=RELEASE),
        stack_event("aws-cicd-prod", "UPDATE_IN_PROGRESS", 1),
    ]
    stack = described("UPDATE_ROLLBACK_IN_PROGRESS", ApiCanaryRelease="previous-release")
    verdict = api_canary_watch.judge(stack, events, RELEASE, seen_ours=True)
    assert verdict == api_canary_watch.Verdict(
        False, "aws-cicd-prod UPDATE_ROLLBACK_IN_PROGRESS: rolled back: aws-cicd-prod-api-canary-5xx in ALARM"
    )
    previous = [
        stack_event("ApiStageCanary", "UPDATE_FAILED", 2, "rolled back: an earlier release", "previous-release")
    ]
    assert api_canary_watch.judge(stack, previous, RELEASE, seen_ours=True) is None


def test_the_watch_names_the_canarys_reason_from_events_that_carry_no_properties():
    events = [
        stack_event("aws-cicd-prod", "UPDATE_ROLLBACK_COMPLETE", 9),
        stack_event("ApiStageCanary", "UPDATE_FAILED", 6, "rolled back: aws-cicd-prod-api-canary-5xx in ALARM"),
        stack_event("aws-cicd-prod", "UPDATE_IN_PROGRESS", 1),
    ]
    verdict = api_canary_watch.judge(described("UPDATE_ROLLBACK_COMPLETE"), events, RELEASE, seen_ours=True)
    assert verdict == api_canary_watch.Verdict(
        False, "aws-cicd-prod UPDATE_ROLLBACK_COMPLETE: rolled back: aws-cicd-prod-api-canary-5xx in ALARM"
    )
    assert api_canary_watch.judge(described("UPDATE_ROLLBACK_COMPLETE"), events, RELEASE, seen_ours=False) is None


def test_the_watch_fails_when_the_release_failed_before_the_canary_decided():
    events = [
        stack_event("aws-cicd-prod", "UPDATE_ROLLBACK_COMPLETE", 9),
        stack_event("HomeFunctionAliaslive", "UPDATE_FAILED", 6, "CodeDeploy deployment failed: HomeErrorsAlarm"),
        stack_event("aws-cicd-prod", "UPDATE_IN_PROGRESS", 1),
    ]
    verdict = api_canary_watch.judge(described("UPDATE_ROLLBACK_COMPLETE"), events, RELEASE, seen_ours=True)
    assert verdict == api_canary_watch.Verdict(
        False,
        "aws-cicd-prod UPDATE_ROLLBACK_COMPLETE before the API canary decided."
        " HomeFunctionAliaslive: CodeDeploy deployment failed: HomeErrorsAlarm",
    )


def test_a_stack_without_the_canary_passes_and_a_missing_release_fails():
    off = api_canary_watch.judge(described("UPDATE_COMPLETE"), [], RELEASE, seen_ours=True)
    assert off is not None and off.passed and "EnableApiCanary is false" in off.message
    other = described("UPDATE_COMPLETE", ApiCanaryRelease="", ApiCanaryOutcome="no API definition change")
    unnamed = api_canary_watch.judge(other, [], RELEASE, seen_ours=True)
    assert unnamed is not None and not unnamed.passed and "was ReleaseId passed?" in unnamed.message


@pytest.mark.parametrize(("release", "code"), [(RELEASE, 0), ("another-release", 1)])
def test_make_api_canary_watch_reads_the_stack_as_codebuild_would(aws, capsys, release, code):
    template = {
        "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"ApiCanaryRelease": {"Value": RELEASE}, "ApiCanaryOutcome": {"Value": "no API definition change"}},
    }
    boto3.client("cloudformation").create_stack(StackName="aws-cicd-prod", TemplateBody=json.dumps(template))
    assert api_canary_watch.main(["aws-cicd-prod", release, "--timeout", "2", "--poll", "1"]) == code
    printed = capsys.readouterr().out
    if code == 0:
        assert "API canary: aws-cicd-prod CREATE_COMPLETE: no API definition change" in printed
    else:  # no update of that release ever showed up
        assert "API canary FAILED: no outcome for release another-release within" in printed
