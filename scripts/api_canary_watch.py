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
#: how long this release's update may take to show up before the step gives up
START_SECONDS = 900
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


def is_ours(stack: Mapping[str, Any], release: str) -> bool:
    """The stack is being updated to this release (its ReleaseId parameter)."""
    parameters = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
    return str(stack["StackStatus"]).endswith("_IN_PROGRESS") and parameters.get("ReleaseId") == release


def judge(
    stack: Mapping[str, Any], events: Sequence[Mapping[str, Any]], release: str, *, seen_ours: bool
) -> Verdict | None:
    """The outcome of ``release``, or None while it is not known. ``events``: the stack's recent
    events; ``seen_ours``: this release's update was seen in progress."""
    name, status = str(stack["StackName"]), str(stack["StackStatus"])
    for event in events:
        ours = event["LogicalResourceId"] == CANARY and _release_of(event) == release
        if ours and event["ResourceStatus"].endswith("_FAILED"):
            return Verdict(False, f"{name} {status}: {event.get('ResourceStatusReason', '')}")
    if status.endswith("_IN_PROGRESS"):
        return None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    if outputs.get("ApiCanaryRelease") == release and not status.endswith(FAILED):
        return Verdict(True, f"{name} {status}: {outputs.get('ApiCanaryOutcome', '')}")
    return _ended(name, status, outputs, events, release) if seen_ours else None


def _ended(
    name: str, status: str, outputs: Mapping[str, str], events: Sequence[Mapping[str, Any]], release: str
) -> Verdict:
    """This release's update ended without this release's canary outcome."""
    if status.endswith(FAILED):
        failed = [e for e in events if e["ResourceStatus"].endswith("_FAILED") and e["LogicalResourceId"] != name]
        canary = [e for e in failed if e["LogicalResourceId"] == CANARY]
        if canary:  # this release's update, its canary failed (events that do not carry the properties)
            return Verdict(False, f"{name} {status}: {canary[-1].get('ResourceStatusReason', '')}")
        cause = f" {failed[-1]['LogicalResourceId']}: {failed[-1].get('ResourceStatusReason', '')}" if failed else ""
        return Verdict(False, f"{name} {status} before the API canary decided.{cause}")
    if "ApiCanaryRelease" not in outputs:
        return Verdict(True, f"{name} {status}: the stack has no API stage canary (EnableApiCanary is false)")
    return Verdict(False, f"{name} {status}, but its ApiCanaryRelease is not {release}: was ReleaseId passed?")


def recent_events(cloudformation: Any, stack: str, since: datetime) -> list[dict[str, Any]]:
    """The stack's events back to ``since`` (newest first)."""
    found: list[dict[str, Any]] = []
    for page in cloudformation.get_paginator("describe_stack_events").paginate(StackName=stack):
        found += [e for e in page["StackEvents"] if e["Timestamp"] >= since]
        if page["StackEvents"] and page["StackEvents"][-1]["Timestamp"] < since:
            break
    return found


def watch(cloudformation: Any, stack: str, release: str, *, timeout: float, poll: float) -> Verdict:
    since = datetime.now(UTC) - LOOKBACK
    started = time.monotonic()
    seen_ours = False
    while True:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        seen_ours = seen_ours or is_ours(described, release)
        found = judge(described, recent_events(cloudformation, stack, since), release, seen_ours=seen_ours)
        if found is not None:
            return found
        waited = time.monotonic() - started
        status = described["StackStatus"]
        if waited >= timeout or (not seen_ours and waited >= min(timeout, START_SECONDS)):
            return Verdict(False, f"no outcome for release {release} within {waited:.0f} s: {stack} is {status}")
        print(f"{stack} {status}: waiting for release {release}", flush=True)
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
