"""`make pipeline-artifacts` (the Build stage, after `make package`): what the deploy stages need
besides the packaged template, built once and promoted unchanged to dev and prod.

- `.aws-sam/pipeline/<env>.json` for dev and prod: CloudFormation template configuration files
  (samconfig.toml's parameter overrides and tags for that environment, plus the artifacts below);
  the pipeline adds its own choices (variants, secret key, email) as parameter overrides.
- ENABLE_EC2=true: the arm64 EC2 bundle, uploaded to ARTIFACT_BUCKET under the commit; its SHA-256
  goes into the configuration files, and an instance installs nothing else.
- ENABLE_FARGATE=true: the image, built from the same wheelhouse as `make test-container`, tagged
  with the commit and pushed to IMAGE_REPOSITORY (the pipeline's ECR repository).

Environment: ARTIFACT_BUCKET, ARTIFACT_PREFIX, CODEBUILD_RESOLVED_SOURCE_VERSION (the commit),
ENABLE_EC2, ENABLE_FARGATE, IMAGE_REPOSITORY, BASE_IMAGE (optional), DOCKER (optional, for tests).
"""

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.build_bundle import ROOT, build, pip_python, sha256, wheelhouse
from scripts.samconfig import parameter_values, tags

OUTPUT = ROOT / ".aws-sam" / "pipeline"
ENVIRONMENTS = ("dev", "prod")
PLATFORM = "manylinux2014_aarch64"
#: the official image, from ECR Public (no Docker Hub rate limit in CodeBuild)
DEFAULT_BASE_IMAGE = "public.ecr.aws/docker/library/python:3.13-slim"


def configuration(env: str, artifacts: dict[str, str]) -> dict[str, dict[str, str]]:
    return {"Parameters": {**parameter_values(env), **artifacts}, "Tags": tags(env)}


def _flag(name: str) -> bool:
    value = os.environ.get(name, "false").strip().lower()
    if value not in ("true", "false"):
        sys.exit(f"{name} must be true or false, not {value!r}")
    return value == "true"


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        sys.exit(f"{name} is not set (the pipeline's build project sets it)")
    return value


def upload_bundle(bucket: str, prefix: str) -> dict[str, str]:
    import boto3  # noqa: PLC0415

    bundle = ROOT / ".aws-sam" / "bundle" / "simple-api.zip"
    version = build(bundle, PLATFORM, ROOT / ".tools" / "uv" / "bin" / "uv", pip_python())
    key = f"{prefix}/ec2/simple-api-{version}.zip"
    # SSE-S3, not the pipeline key: the instances read the bundle and hold no grant on that key.
    boto3.client("s3").upload_file(str(bundle), bucket, key, ExtraArgs={"ServerSideEncryption": "AES256"})
    print(f"EC2 bundle: s3://{bucket}/{key}", flush=True)
    return {"Ec2BundleBucket": bucket, "Ec2BundleKey": key, "Ec2BundleSha256": sha256(bundle)}


def push_image(repository: str, tag: str) -> dict[str, str]:
    import boto3  # noqa: PLC0415

    docker = os.environ.get("DOCKER", "docker")
    ecr = boto3.client("ecr")
    (authorization,) = ecr.get_authorization_token()["authorizationData"]
    registry = authorization["proxyEndpoint"].removeprefix("https://")
    user, password = base64.b64decode(authorization["authorizationToken"]).decode().split(":", 1)
    subprocess.run(
        [docker, "login", "--username", user, "--password-stdin", registry], input=password, text=True, check=True
    )
    context = ROOT / ".wheels"
    shutil.rmtree(context, ignore_errors=True)
    wheelhouse(context, PLATFORM, ROOT / ".tools" / "uv" / "bin" / "uv", pip_python())
    image = f"{registry}/{repository}:{tag}"
    base = os.environ.get("BASE_IMAGE") or DEFAULT_BASE_IMAGE
    subprocess.run(
        [docker, "build", "--platform", "linux/arm64", "--build-arg", f"BASE_IMAGE={base}", "-t", image, "."],
        cwd=ROOT,
        check=True,
    )
    subprocess.run([docker, "push", image], check=True)
    print(f"Fargate image: {image}", flush=True)
    return {"FargateImageRepository": repository, "FargateImageTag": tag}


def main() -> int:
    commit = _required("CODEBUILD_RESOLVED_SOURCE_VERSION")
    ec2, fargate = _flag("ENABLE_EC2"), _flag("ENABLE_FARGATE")
    artifacts: dict[str, str] = {}
    if ec2:
        bucket = _required("ARTIFACT_BUCKET")
        artifacts |= upload_bundle(bucket, os.environ.get("ARTIFACT_PREFIX") or f"aws-cicd/{commit}")
    if fargate:
        artifacts |= push_image(_required("IMAGE_REPOSITORY"), commit)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for env in ENVIRONMENTS:
        path = OUTPUT / f"{env}.json"
        document = configuration(env, artifacts)
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        print(f"{path.relative_to(ROOT)}: parameters {sorted(document['Parameters'])}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
