"""`make package` (the Build stage): upload the built code to ARTIFACT_BUCKET under ARTIFACT_PREFIX
and write .aws-sam/packaged.yaml. With SIGNING_PROFILE (the pipeline's AWS Signer profile name),
every function and layer is signed on the way (`sam package --signing-profiles`), so a stack that
enforces code signing (CodeSigningProfileVersionArn) accepts exactly what this build produced.
"""

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
BUILT = ROOT / ".aws-sam" / "build" / "template.yaml"
SIGNED_TYPES = ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion")


def signed_resources(template: Path = BUILT) -> list[str]:
    """Logical ids of every function and layer of the built template."""
    from cfn_tools import load_yaml  # noqa: PLC0415 - a dev dependency

    resources = load_yaml(template.read_text())["Resources"]
    return sorted(name for name, resource in resources.items() if resource["Type"] in SIGNED_TYPES)


def command(bucket: str, prefix: str, profile: str) -> list[str]:
    sam = os.environ.get("SAM", str(ROOT / ".tools" / "sam" / "bin" / "sam"))
    arguments = [sam, "package", "--template-file", str(BUILT), "--s3-bucket", bucket, "--s3-prefix", prefix]
    arguments += ["--output-template-file", str(ROOT / ".aws-sam" / "packaged.yaml")]
    if profile:
        arguments += ["--signing-profiles", *(f"{name}={profile}" for name in signed_resources())]
    return arguments


def main() -> int:
    bucket = os.environ.get("ARTIFACT_BUCKET", "").strip()
    if not bucket:
        print("usage: make package ARTIFACT_BUCKET=<bucket> [ARTIFACT_PREFIX=<prefix>] [SIGNING_PROFILE=<name>]")
        return 2
    prefix = os.environ.get("ARTIFACT_PREFIX", "").strip() or "aws-cicd"
    return subprocess.call(command(bucket, prefix, os.environ.get("SIGNING_PROFILE", "").strip()), cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
