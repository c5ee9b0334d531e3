"""Run the pipeline's buildspecs locally, in the pipeline's order (Build, TestDev, DeployProd's
ApiCanary) and each one's phases in CodeBuild's order, against a local AWS - so a typo in
buildspec.yml, buildspec-contract.yml or buildspec-api-canary.yml shows up here, not first in
CodeBuild.

The local world is the one `make run` uses (host.local.running): moto on 127.0.0.1 holding the
secret, and the API served by the host. Added to it: the pipeline's artifact bucket, a dev stack
whose ApiUrl output is that host, so `make contract STACK=...` runs for real, and a prod stack
whose last update reported this release's API canary (what Custom::ApiStageCanary leaves in its
outputs; the emulator tier runs the real canary and this step against it). Each command
runs with bash in the repository, with the buildspec's env variables, the pipeline project's
variables, CodeBuild's own and AWS_ENDPOINT_URL pointing at moto. Commands named in --dry-run
(default: `make pr` and `make test`, which are what is running this) are only resolved: their make targets must
exist (`make -n` would still run recursive $(MAKE) lines, so it is not used). Afterwards every
artifact file the buildspec declares must exist, and so must every report's files.

Usage: run_buildspec.py [--buildspec PATH ...] [--dry-run "make test" ...]
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "shared"))

from host.local import LOCAL_CREDENTIALS, free_port, running

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("install", "pre_build", "build", "post_build")
BUCKET = "codebuild-artifacts-local"
PIPELINE_ORDER = ("buildspec.yml", "buildspec-contract.yml", "buildspec-api-canary.yml")
DEV_STACK = "aws-cicd-dev"
PROD_STACK = "aws-cicd-prod"
RELEASE = "0f1e2d3c-local-execution"  # what the pipeline passes: #{codepipeline.PipelineExecutionId}


def commands(spec: dict[str, object]) -> list[tuple[str, str]]:
    phases = spec.get("phases", {})
    assert isinstance(phases, dict), "phases must be a mapping"
    unknown = set(phases) - set(PHASES)
    assert not unknown, f"unknown phases: {sorted(unknown)}"
    return [(phase, command) for phase in PHASES for command in (phases.get(phase) or {}).get("commands", [])]


def make_targets() -> set[str]:
    """Every target the Makefile defines (make's own database; runs no recipe)."""
    database = subprocess.run(["make", "-qp"], cwd=ROOT, capture_output=True, text=True, check=False).stdout
    return {
        line.split(":", 1)[0]
        for line in database.splitlines()
        if line and line[0].isalnum() and ":" in line and "=" not in line.split(":", 1)[0]
    }


def prepare(aws_url: str, api_url: str) -> None:
    """The artifact bucket, a dev stack whose ApiUrl output is the local API, and a prod stack
    whose outputs report this release's API canary."""
    import boto3  # noqa: PLC0415

    session = boto3.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=LOCAL_CREDENTIALS["aws_secret_access_key"],
        region_name="us-east-1",
    )
    session.client("s3", endpoint_url=aws_url).create_bucket(Bucket=BUCKET)
    template = {
        "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"ApiUrl": {"Value": api_url}},
    }
    cloudformation = session.client("cloudformation", endpoint_url=aws_url)
    cloudformation.create_stack(StackName=DEV_STACK, TemplateBody=json.dumps(template))
    outcome = "no API definition change: d1 already serves"
    reported = {
        "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"ApiCanaryRelease": {"Value": RELEASE}, "ApiCanaryOutcome": {"Value": outcome}},
    }
    cloudformation.create_stack(StackName=PROD_STACK, TemplateBody=json.dumps(reported))


def unresolved(path: Path, targets: set[str], dry: set[str]) -> list[str]:
    """Problems found before running anything: make commands naming targets the Makefile lacks, and
    commands to resolve (--dry-run) that are not make commands at all."""
    problems = []
    for phase, command in commands(yaml.safe_load(path.read_text())):
        words = shlex.split(command)
        wanted = {word for word in words[1:] if "=" not in word and not word.startswith("-")}
        if words[0] == "make" and not wanted <= targets:
            problems.append(f"[{path.name}] FAILED in {phase}: no such make target in {command!r}")
        elif words[0] != "make" and command in dry:
            problems.append(f"[{path.name}] FAILED in {phase}: only make commands can be resolved: {command!r}")
    return problems


def run(path: Path, environment: dict[str, str], dry: set[str]) -> bool:
    spec = yaml.safe_load(path.read_text())
    environment = {**environment, **{k: str(v) for k, v in (spec.get("env") or {}).get("variables", {}).items()}}
    for phase, command in commands(spec):
        if command in dry:  # its make targets were resolved before anything ran
            print(f"[{path.name}] {phase}: {command} (resolved, not run)", flush=True)
            continue
        print(f"[{path.name}] {phase}: {command}", flush=True)
        shell = ["bash", "-euo", "pipefail", "-c", command]
        if subprocess.run(shell, cwd=ROOT, env=environment, check=False).returncode:
            print(f"[{path.name}] FAILED in {phase}: {command}", flush=True)
            return False
    missing = [f for f in (spec.get("artifacts") or {}).get("files", []) if not (ROOT / f).exists()]
    makefile = (ROOT / "Makefile").read_text()
    for name, report in (spec.get("reports") or {}).items():
        base = report.get("base-directory", ".")
        for file in report.get("files", []):
            # written by `make test` (resolved, not run, here): the Makefile must name the same path
            produced = (ROOT / base / file).exists() or (
                f"REPORTS     := {base}" in makefile and f"$(REPORTS)/{file}" in makefile
            )
            if not produced:
                missing.append(f"report {name}: {base}/{file}")
    if missing:
        print(f"[{path.name}] missing after the build: {missing}", flush=True)
        return False
    print(f"[{path.name}] every phase passed; every artifact and report exists", flush=True)
    return True


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dry-run", action="append", default=None)
    parser.add_argument("--buildspec", type=Path, action="append", default=None)
    arguments = parser.parse_args()
    dry = set(arguments.dry_run or ["make pr", "make test"])
    buildspecs = arguments.buildspec or [ROOT / name for name in PIPELINE_ORDER]
    targets = make_targets()
    problems = [problem for path in buildspecs for problem in unresolved(path, targets, dry)]
    if problems:
        print("\n".join(problems), flush=True)
        return 1
    with running(free_port(), free_port(), quiet=True) as local:
        assert local.aws_url is not None
        prepare(local.aws_url, local.url)
        environment = {
            **os.environ,
            "AWS_ENDPOINT_URL": local.aws_url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
            # what the pipeline's CodeBuild projects set (infra/pipeline.yaml), variants off
            "ARTIFACT_BUCKET": BUCKET,
            "ENABLE_EC2": "false",
            "ENABLE_FARGATE": "false",
            "IMAGE_REPOSITORY": "",
            "STACK_NAME": DEV_STACK,
            "PROD_STACK_NAME": PROD_STACK,
            "RELEASE_ID": RELEASE,
            # CodeBuild's own
            "CODEBUILD_RESOLVED_SOURCE_VERSION": "0123456789abcdef0123456789abcdef01234567",
            "CODEBUILD_BUILD_ID": "local:run",
        }
        environment.pop("AWS_PROFILE", None)
        environment.pop("AWS_SESSION_TOKEN", None)
        for path in buildspecs:
            if not run(path, environment, dry):
                return 1
        print(f"[pipeline] passed: {', '.join(path.name for path in buildspecs)}", flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
