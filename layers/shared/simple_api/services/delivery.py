"""Delivery metrics from the pipeline's own history - DORA's four keys as a pipeline sees them.

An EventBridge "CodePipeline Stage Execution State Change" event plus the pipeline's recent stage
runs give, when a stage on the path to prod ends:

* ``Deployments`` (Count) when DeployProd succeeds - summed per day, the deployment frequency;
* ``LeadTime`` (Seconds) from the run's start (the push that triggered it) to that success;
* ``Failures`` (Count) and ``TimeBetweenFailures`` (Seconds since the previous failure) when a
  stage on the path fails - averaged, the mean time between failures;
* ``TimeToRestore`` (Seconds) when DeployProd succeeds after failures: from the first failure
  since the previous prod deployment - averaged, the mean time to recover.

Approvals and the teardown are decisions, not failures: a rejected approval is never counted.
"""

from dataclasses import dataclass
from datetime import datetime

DELIVERY_STAGES = ("Build", "DeployDev", "TestDev", "DeployProd")
PROD_STAGE = "DeployProd"


@dataclass(frozen=True)
class StageRun:
    """One stage of one pipeline execution, from its actions' history."""

    execution_id: str
    stage: str
    failed: bool
    started: datetime
    ended: datetime


@dataclass(frozen=True)
class StageEnded:
    execution_id: str
    stage: str
    state: str  # SUCCEEDED | FAILED | ... (EventBridge detail.state)
    time: datetime


@dataclass(frozen=True)
class Measurement:
    name: str
    value: float
    unit: str  # "Count" | "Seconds"


def measure(event: StageEnded, history: list[StageRun]) -> list[Measurement]:
    if event.stage not in DELIVERY_STAGES:
        return []
    earlier = [run for run in history if run.ended < event.time and run.execution_id != event.execution_id]
    if event.state == "FAILED":
        found = [Measurement("Failures", 1, "Count")]
        failures = [run.ended for run in earlier if run.failed and run.stage in DELIVERY_STAGES]
        if failures:
            found.append(Measurement("TimeBetweenFailures", _seconds(event.time, max(failures)), "Seconds"))
        return found
    if event.state != "SUCCEEDED" or event.stage != PROD_STAGE:
        return []
    found = [Measurement("Deployments", 1, "Count")]
    own = [run.started for run in history if run.execution_id == event.execution_id]
    if own:
        found.append(Measurement("LeadTime", _seconds(event.time, min(own)), "Seconds"))
    deployed = [run.ended for run in earlier if run.stage == PROD_STAGE and not run.failed]
    since = max(deployed) if deployed else None
    failed = [
        run.ended
        for run in history
        if run.failed
        and run.stage in DELIVERY_STAGES
        and (since is None or run.ended > since)
        and run.ended < event.time
    ]
    if failed:
        found.append(Measurement("TimeToRestore", _seconds(event.time, min(failed)), "Seconds"))
    return found


def _seconds(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds())
