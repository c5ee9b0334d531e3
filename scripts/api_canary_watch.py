"""Follow one release's API stage canary in a stack and report its outcome (the pipeline's
DeployProd/ApiCanary step, `make api-canary-watch`; docs/api-canary.md).

The canary itself runs inside CloudFormation's update (Custom::ApiStageCanary). The pipeline's
change set names the release (the ReleaseId parameter, its execution id), which the canary
resource echoes: after a successful update the stack's ApiCanaryRelease output is this release and
ApiCanaryOutcome says what happened (promoted, no definition change); after a failed one, the
canary resource's failure event (whose properties name the release) says why it rolled back. This
step waits for either, runs beside ExecuteChangeSet, and fails when the release did not reach the
stage, so the outcome is a step of its own in the pipeline's history.

Usage: api_canary_watch.py STACK RELEASE [--timeout SECONDS] [--poll SECONDS]
"""

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

CANARY = "ApiStageCanary"
#: ExecuteChangeSet starts the update when this step starts; CodeBuild needs a while to begin
LOOKBACK = timedelta(minutes=3)
BEGINS = ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS")
FAILED = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "_FAILED")


@dataclass(frozen=True)
class Verdict:
    passed: bool
    message: str


def _release_of(event: Mapping[str, Any]) -> str | None:
    try:
        properties = json.loads(event.get("ResourceProperties") or "{}")
    except ValueError:
        return None
    release = properties.get("Release") if isinstance(properties, dict) else None
    return release if isinstance(release, str) else None


def judge(
    stack: Mapping[str, Any], events: Sequence[Mapping[str, Any]], release: str, since: datetime
) -> Verdict | None:
    """The outcome of ``release`` from the stack and its events (newest first), or None while it
    is not known yet. ``since``: when this step began, less LOOKBACK."""
    name, status = str(stack["StackName"]), str(stack["StackStatus"])
    if status.endswith("_IN_PROGRESS"):
        return None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    if outputs.get("ApiCanaryRelease") == release and not status.endswith(FAILED):
        return Verdict(True, f"{name} {status}: {outputs.get('ApiCanaryOutcome', '')}")
    begun = [e for e in events if e["LogicalResourceId"] == name and e["ResourceStatus"] in BEGINS]
    if not begun or begun[0]["Timestamp"] < since:
        return None  # this release's update has not begun yet
    return _ended(name, status, outputs, [e for e in events if e["Timestamp"] >= begun[0]["Timestamp"]], release)


def _ended(
    name: str, status: str, outputs: Mapping[str, str], operation: Sequence[Mapping[str, Any]], release: str
) -> Verdict:
    """The verdict on an update of this release that ended without reporting its canary."""
    for event in operation:
        ours = event["LogicalResourceId"] == CANARY and _release_of(event) == release
        if ours and event["ResourceStatus"].endswith("_FAILED"):
            return Verdict(False, f"{name} {status}: {event.get('ResourceStatusReason', '')}")
    if status.endswith(FAILED):
        failed = [e for e in operation if e["ResourceStatus"].endswith("_FAILED") and e["LogicalResourceId"] != name]
        cause = f"{failed[-1]['LogicalResourceId']}: {failed[-1].get('ResourceStatusReason', '')}" if failed else ""
        return Verdict(False, f"{name} {status} before the API canary decided. {cause}".rstrip())
    if "ApiCanaryRelease" not in outputs:
        return Verdict(True, f"{name} {status}: the stack has no API stage canary (EnableApiCanary is false)")
    return Verdict(False, f"{name} {status}, but its ApiCanaryRelease is not {release}: was ReleaseId passed?")


def recent_events(cloudformation: Any, stack: str, since: datetime) -> list[dict[str, Any]]:
    """The stack's events back to ``since`` (newest first)."""
    found: list[dict[str, Any]] = []
    for page in cloudformation.get_paginator("describe_stack_events").paginate(StackName=stack):
        found += page["StackEvents"]
        if page["StackEvents"] and page["StackEvents"][-1]["Timestamp"] < since:
            break
    return found


def watch(cloudformation: Any, stack: str, release: str, *, timeout: float, poll: float) -> Verdict:
    since = datetime.now(UTC) - LOOKBACK
    deadline = time.monotonic() + timeout
    while True:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        found = judge(described, recent_events(cloudformation, stack, since), release, since)
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            status = described["StackStatus"]
            return Verdict(False, f"no outcome for release {release} within {timeout:.0f} s: {stack} is {status}")
        print(f"{stack} {described['StackStatus']}: waiting for release {release}", flush=True)
        time.sleep(poll)


def main(argv: list[str] | None = None) -> int:
    import boto3  # noqa: PLC0415

    parser = argparse.ArgumentParser()
    parser.add_argument("stack")
    parser.add_argument("release")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--poll", type=float, default=15)
    arguments = parser.parse_args(argv)
    if not arguments.release:
        print("usage: api_canary_watch.py STACK RELEASE (the pipeline's execution id)", file=sys.stderr)
        return 2
    cloudformation = boto3.client("cloudformation")
    verdict = watch(cloudformation, arguments.stack, arguments.release, timeout=arguments.timeout, poll=arguments.poll)
    print(("API canary: " if verdict.passed else "API canary FAILED: ") + verdict.message, flush=True)
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    sys.exit(main())
