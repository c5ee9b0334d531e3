"""The API stage canary in the emulator tier (`make test-emulator`, docs/api-canary.md).

1. the service and its adapter against ministack's API Gateway and CloudWatch, on a REST API made
   for the purpose: a quiet bake promotes (the main deployment stays the previous one until then),
   an alarm rolls back, a second release while a canary is open is refused, an older deployment
   (CloudFormation rolling back) is restored at once;
2. prod's stack, updated through CloudFormation with a new deployment of its API: the canary
   opens on it while the stage's main deployment stays the previous one (the emulated API keeps
   answering), then it is promoted and the old deployment is deleted in the cleanup; the
   pipeline's ApiCanary step (api_canary_watch) reports it from the stack;
3. another new deployment whose canary alarm is set to ALARM during the bake: a second update
   tried meanwhile is refused, the canary rolls back, CloudFormation rolls the update back, the
   stage is as before, and the ApiCanary step fails with the canary's reason.

What ministack cannot do, and what stands in: it replaces a REST API whose definition (Body)
changes (real CloudFormation updates it in place: a new API id, no stage to canary), so the
updates here set SAM's ``AlwaysDeploy`` on the API instead, which makes a new deployment of the
same definition on every deploy; it keeps a stage's canary settings but sends no traffic to the
canary, and it evaluates no metric filter, so the alarms are set by hand, as real canary traffic
would set them on AWS. The translation tests show a real definition change (tests/templates/
test_api_canary.py).
"""

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from scripts import api_canary_watch
from scripts.emulator import log
from simple_api.adapters.apigateway import ApiStage, CloudWatchAlarms
from simple_api.services import api_canary
from simple_api.services.api_canary import CanaryRefused, CanaryRolledBack, Release, StageState, Watch

if TYPE_CHECKING:
    from scripts.emulator_tier import Deployed, Tier

BAKE_SECONDS = 12
MISSING_ROUTE = "MISSING_AUTHENTICATION_TOKEN"


# ---------------------------------------------------------------- 1. the service against ministack
def quiet_alarm(cloudwatch: Any, name: str) -> None:
    """A canary alarm as template.yaml makes them (its canary 5xx), in state OK."""
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AwsCicd/aws-cicd-prod/ApiCanary",
        MetricName="CanaryServerErrors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="quiet")


def service(tier: "Tier") -> None:
    apigateway, cloudwatch = tier.emulator.client("apigateway"), tier.emulator.client("cloudwatch")
    api = apigateway.create_rest_api(name="api-canary-service-check")["id"]
    root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
    apigateway.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    alarm = "api-canary-service-check-5xx"
    quiet_alarm(cloudwatch, alarm)

    def deployment() -> str:
        time.sleep(1.1)  # deployments made a second apart: API Gateway dates them to the second
        return str(apigateway.create_deployment(restApiId=api)["id"])

    first = deployment()
    apigateway.create_stage(restApiId=api, stageName="prod", deploymentId=first)
    stage = ApiStage(api, "prod", apigateway)
    opened: list[StageState | None] = []

    def release(target: str, on_open: Callable[[], None] = lambda: None) -> api_canary.Outcome:
        def progress(message: str, **fields: Any) -> None:
            if message == "canary open":
                opened.append(stage.read())
                on_open()

        watch = Watch(CloudWatchAlarms(cloudwatch), progress=progress)
        return api_canary.release(Release(api, "prod", target, 10.0, 2, (alarm,)), stage, watch, budget_seconds=120)

    try:
        second = deployment()
        outcome = release(second)
        tier.check(opened == [StageState(first, second, 10.0)], f"service: the canary opened as {opened}")
        tier.check(stage.read() == StageState(second), f"service: promoted to {stage.read()}: {outcome.summary}")

        third = deployment()
        fire = lambda: cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="forced")  # noqa: E731
        try:
            release(third, on_open=fire)
            tier.check(False, "service: an alarm in the bake did not roll back")
        except CanaryRolledBack as rolled:
            tier.check(stage.read() == StageState(second), f"service: after the rollback {stage.read()}: {rolled}")
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="quiet")

        stage.open_canary(third, 10.0)  # an open canary, as a release in its bake leaves it
        fourth = deployment()
        try:
            release(fourth)
            tier.check(False, "service: a second release while a canary is open was not refused")
        except CanaryRefused:
            tier.check(stage.read() == StageState(second, third, 10.0), f"service: refused, yet {stage.read()}")
        stage.close_canary()

        restored = release(first)  # older than the stage's: what CloudFormation's rollback asks
        tier.check(stage.read() == StageState(first), f"service: {restored.summary} left {stage.read()}")
        log(f"API canary service against ministack: promoted, rolled back, refused, restored ({len(opened)} opened)")
    finally:
        apigateway.delete_rest_api(restApiId=api)
        cloudwatch.delete_alarms(AlarmNames=[alarm])


# ---------------------------------------------------------------- 2 and 3. prod's stack
def redeployed(template: Path, target: Path) -> Path:
    """A copy of the overlaid template whose API gets a new deployment on every deploy (above)."""
    document = json.loads(template.read_text())
    document["Resources"]["Api"]["Properties"]["AlwaysDeploy"] = True
    target.write_text(json.dumps(document, indent=1))
    log(f"{target.name}: Api.AlwaysDeploy=true (a new deployment stands in for a new definition)")
    return target


@contextmanager
def watching(tier: "Tier", deployed: "Deployed", release: str) -> Iterator[dict[str, api_canary_watch.Verdict]]:
    """The pipeline's ApiCanary step, run beside the update as DeployProd runs it."""
    verdict: dict[str, api_canary_watch.Verdict] = {}
    cloudformation = tier.emulator.client("cloudformation")

    def run() -> None:
        verdict["found"] = api_canary_watch.watch(cloudformation, deployed.stack, release, timeout=150, poll=1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield verdict
    thread.join(timeout=170)


def stages_during(
    tier: "Tier", deployed: "Deployed", update: threading.Thread, on_canary: Callable[[], None]
) -> list[StageState]:
    """Every state the stage goes through while ``update`` runs (read every 0.2 s)."""
    stage = ApiStage(deployed.outputs["ApiId"], "prod", tier.emulator.client("apigateway"))
    seen: list[StageState] = []
    while update.is_alive():
        state = stage.read()
        if state is not None and (not seen or seen[-1] != state):
            seen.append(state)
            if state.open_canary:
                on_canary()
        time.sleep(0.2)
    final = stage.read()
    if final is not None and (not seen or seen[-1] != final):
        seen.append(final)
    return seen


def answers(tier: "Tier", deployed: "Deployed") -> int:
    return requests.get(
        f"{tier.api_url(deployed)}/healthcheck", verify=str(tier.emulator.bundle), timeout=30
    ).status_code


@dataclass(frozen=True)
class Change:
    template: Path
    secret: str
    release: str


def update(
    tier: "Tier", deployed: "Deployed", change: Change, on_canary: Callable[[], None]
) -> tuple[bool, list[StageState], api_canary_watch.Verdict | None]:
    """sam deploy of ``change`` (a short bake, its ReleaseId) while the stage is read and the
    ApiCanary step watches; whether it succeeded, the stage's states, the step's verdict."""
    extra = {"ApiCanaryBakeSeconds": str(BAKE_SECONDS), "ReleaseId": change.release}
    result: dict[str, bool] = {}

    def deploy() -> None:
        name = f"update-{change.release}"
        result["ok"] = tier.deploy(name, deployed.env, change.template, change.secret, extra=extra, check=False)

    with watching(tier, deployed, change.release) as verdict:
        thread = threading.Thread(target=deploy, daemon=True)
        thread.start()
        states = stages_during(tier, deployed, thread, on_canary)
    return result.get("ok", False), states, verdict.get("found")


def deployments(tier: "Tier", deployed: "Deployed") -> set[str]:
    found = tier.emulator.client("apigateway").get_deployments(restApiId=deployed.outputs["ApiId"])["items"]
    return {str(d["id"]) for d in found}


def stack(tier: "Tier", deployed: "Deployed", template: Path, secret: str) -> None:
    cloudwatch, alarm = tier.emulator.client("cloudwatch"), f"{deployed.stack}-api-canary-5xx"
    changed = redeployed(template, tier.emulator.workdir / "template-redeployed.json")
    before = tier.emulator.client("apigateway").get_stage(restApiId=deployed.outputs["ApiId"], stageName="prod")
    previous = str(before["deploymentId"])

    # 2. a new deployment, baked quiet, promoted
    served: list[int] = []
    with tier.step("update prod: new API deployment, canary promoted"):
        change = Change(changed, secret, "emulator-release-1")
        ok, states, verdict = update(tier, deployed, change, lambda: served.append(answers(tier, deployed)))
    tier.check(ok, "the promoted update failed")
    opened = [s for s in states if s.open_canary]
    new = opened[0].canary_deployment_id if opened else None
    tier.check(bool(opened) and opened[0].deployment_id == previous, f"no canary beside {previous}: {states}")
    tier.check(served == [200], f"during the canary the API answered {served}")
    tier.check(states[-1:] == [StageState(str(new))], f"the stage ended as {states[-1:]}, not promoted to {new}")
    tier.check(previous not in deployments(tier, deployed), f"the previous deployment {previous} outlived the cleanup")
    passed = bool(verdict and verdict.passed and "promoted" in verdict.message)
    tier.check(passed, f"the ApiCanary step said {verdict}")
    log(f"API canary: {previous} stayed the stage's while {new} baked; promoted. ApiCanary step: {verdict}")

    # 3. another, its alarm fires in the bake: rolled back, and a concurrent update refused
    refusals: list[str] = []

    def fire_and_try_another() -> None:
        if refusals:
            return
        try:
            tier.emulator.client("cloudformation").update_stack(
                StackName=deployed.stack,
                UsePreviousTemplate=True,
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
            )
            refusals.append("accepted")
        except Exception as error:  # the refusal is what is wanted here
            refusals.append(type(error).__name__ + ": " + str(error)[:120])
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="forced by the emulator tier")

    with tier.step("update prod: new API deployment, canary alarm, rolled back"):
        ok, states, verdict = update(
            tier, deployed, Change(changed, secret, "emulator-release-2"), fire_and_try_another
        )
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="reset by the emulator tier")
    status = tier.status(deployed.stack)
    opened = [s for s in states if s.open_canary]
    tier.check(
        not ok and status == "UPDATE_ROLLBACK_COMPLETE", f"the alarmed update ended {status} (sam deploy ok={ok})"
    )
    tier.check(bool(opened) and opened[0].deployment_id == new, f"no canary beside {new}: {states}")
    tier.check(bool(refusals) and refusals[0] != "accepted", f"a second update during the bake: {refusals}")
    tier.check(states[-1:] == [StageState(str(new))], f"after the rollback the stage is {states[-1:]}, not {new}")
    left = {str(s.canary_deployment_id) for s in opened} & deployments(tier, deployed)
    tier.check(not left, f"the rolled-back deployment {left} outlived the rollback")
    failed = bool(
        verdict
        and not verdict.passed
        and verdict.message.startswith(f"{deployed.stack} UPDATE_ROLLBACK_COMPLETE: rolled back:")
    )
    tier.check(failed, f"the ApiCanary step said {verdict}")
    log(f"API canary rolled back to {new}; a second update was refused ({refusals[:1]}); ApiCanary step: {verdict}")
