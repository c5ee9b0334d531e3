"""`make ec2-release ENV=dev BUCKET=<bucket>`: build the arm64 bundle, upload it under a key that
names its version, and deploy ENV with the EC2 variant on and that bundle, pinned by its SHA-256
(keeping every samconfig parameter). A new version is a new key, so the fleet is replaced blue/green."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.build_bundle import ROOT, build, pip_python, sha256
from scripts.set_secret import deploy


def main(env: str, bucket: str) -> int:
    import boto3  # noqa: PLC0415

    bundle = ROOT / ".aws-sam" / "bundle" / "simple-api.zip"
    version = build(
        bundle,
        "manylinux2014_aarch64",
        ROOT / ".tools" / "uv" / "bin" / "uv",
        pip_python(),
    )
    key = f"simple-api/bundles/simple-api-{version}.zip"
    boto3.client("s3").upload_file(str(bundle), bucket, key)
    print(f"uploaded s3://{bucket}/{key}")
    return deploy(env, EnableEc2="true", Ec2BundleBucket=bucket, Ec2BundleKey=key, Ec2BundleSha256=sha256(bundle))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: release_ec2.py ENV BUCKET")
    sys.exit(main(sys.argv[1], sys.argv[2]))
