"""`make teardown ENV=dev|prod`: start the pipeline stack's teardown pipeline (its output
TeardownPipeline) for one environment, on purpose: Environment=ENV and Confirm=delete. It then waits
at ApproveDeletion, which names the stack; approving deletes it with that environment's execution role.

Usage: teardown.py ENV [--stack PIPELINE_STACK]
"""

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.pipeline_clean import stack_outputs

ENVIRONMENTS = ("dev", "prod")


def start(codepipeline: Any, pipeline: str, env: str) -> str:
    """Start the teardown of ``env``; the execution id."""
    if env not in ENVIRONMENTS:
        raise ValueError(f"ENV must be dev or prod, not {env!r}")
    answer = codepipeline.start_pipeline_execution(
        name=pipeline,
        variables=[{"name": "Environment", "value": env}, {"name": "Confirm", "value": "delete"}],
    )
    execution: str = answer["pipelineExecutionId"]
    return execution


def main(argv: list[str] | None = None) -> int:
    import boto3  # noqa: PLC0415
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env", nargs="?", default="")
    parser.add_argument("--stack", default="aws-cicd-pipeline", help="the pipeline stack (samconfig [pipeline])")
    arguments = parser.parse_args(argv)
    if arguments.env not in ENVIRONMENTS:
        print("usage: make teardown ENV=dev|prod", file=sys.stderr)
        return 2
    try:
        pipeline = stack_outputs(boto3.client("cloudformation"), arguments.stack).get("TeardownPipeline")
        if not pipeline:
            print(f"{arguments.stack} has no teardown pipeline (IncludeTeardown=false)", file=sys.stderr)
            return 1
        execution = start(boto3.client("codepipeline"), pipeline, arguments.env)
    except (BotoCoreError, ClientError) as error:  # no credentials, no such stack, not allowed: one line
        print(f"make teardown: {error}", file=sys.stderr)
        return 1
    print(
        f"{pipeline}: execution {execution} started for {arguments.env}; it waits at ApproveDeletion"
        " (approve in the console or with aws codepipeline put-approval-result) before anything is deleted",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
