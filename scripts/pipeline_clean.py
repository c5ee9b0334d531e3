"""Empty what CloudFormation cannot delete while it holds something: the pipeline's artifact bucket
(every object version and delete marker) and its image repository (every image).

`make pipeline-destroy` runs it before deleting the pipeline stack itself (after `make teardown`
has deleted prod and dev).

Usage: pipeline_clean.py [--bucket NAME] [--repository NAME] [--stack PIPELINE_STACK]
(defaults: ARTIFACT_BUCKET and IMAGE_REPOSITORY from the environment, or the stack's outputs)
"""

import argparse
import os
import sys
from itertools import batched
from typing import Any


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every version and delete marker; the number deleted. A missing bucket is empty."""
    deleted = 0
    try:
        pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=bucket))
    except s3.exceptions.NoSuchBucket:
        return 0
    for page in pages:
        doomed = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        for batch in batched(doomed, 1000, strict=False):  # DeleteObjects takes at most 1,000 keys
            answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": list(batch), "Quiet": True})
            if answer.get("Errors"):
                raise RuntimeError(f"could not delete {len(answer['Errors'])} objects: {answer['Errors'][0]}")
            deleted += len(batch)
    return deleted


def empty_repository(ecr: Any, repository: str) -> int:
    """Delete every image; the number deleted. A missing repository is empty."""
    deleted = 0
    try:
        pages = list(ecr.get_paginator("list_images").paginate(repositoryName=repository))
    except ecr.exceptions.RepositoryNotFoundException:
        return 0
    images = [image for page in pages for image in page.get("imageIds", [])]
    for batch in batched(images, 100, strict=False):  # BatchDeleteImage takes at most 100 ids
        answer = ecr.batch_delete_image(repositoryName=repository, imageIds=list(batch))
        failures = [f for f in answer.get("failures", []) if f.get("failureCode") != "ImageNotFound"]
        if failures:
            raise RuntimeError(f"could not delete {len(failures)} images: {failures[0]}")
        deleted += len(answer.get("imageIds", []))
    return deleted


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    (found,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}


def main(argv: list[str] | None = None) -> int:
    import boto3  # noqa: PLC0415

    parser = argparse.ArgumentParser()
    parser.add_argument("--bucket", default=os.environ.get("ARTIFACT_BUCKET", ""))
    parser.add_argument("--repository", default=os.environ.get("IMAGE_REPOSITORY", ""))
    parser.add_argument("--stack", default="", help="read the bucket and repository from this pipeline stack")
    arguments = parser.parse_args(argv)
    bucket, repository = arguments.bucket, arguments.repository
    if arguments.stack:
        outputs = stack_outputs(boto3.client("cloudformation"), arguments.stack)
        bucket, repository = outputs["ArtifactBucket"], outputs.get("ImageRepository", "")
    if not bucket:
        print("usage: pipeline_clean.py --bucket NAME [--repository NAME] | --stack NAME", file=sys.stderr)
        return 2
    print(f"s3://{bucket}: {empty_bucket(boto3.client('s3'), bucket)} object versions deleted", flush=True)
    if repository:
        print(f"ecr {repository}: {empty_repository(boto3.client('ecr'), repository)} images deleted", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
