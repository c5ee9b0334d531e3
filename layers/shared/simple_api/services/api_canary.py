"""The API stage canary (``Custom::ApiStageCanary``, functions/api_canary; docs/api-canary.md).

CloudFormation runs it inside the stack update, after the new API definition's deployment exists
and before the stage resource points at it (the stage waits on this resource's ``DeploymentId``).
So a new definition reaches only the stage canary's share of traffic while the stage's main
deployment stays the previous one; the alarms that watch canary traffic alone gate it for the bake
time; then it is promoted (the canary's deployment becomes the stage's, canary settings removed)
or rolled back (canary settings removed: every request is the main deployment's again) and the
resource fails, so CloudFormation rolls the whole update back. At rest the stage has no canary
settings, which is what the template declares: CloudFormation's view stays true.

What each request to this resource means:

- no stage yet (the stack is being created): nothing to hold back;
- the stage already serves the deployment: nothing changed in the definition (this is also what a
  rollback asks after a closed canary); canary settings found on the stage are removed;
- a canary of another deployment is open: refused, never stacked (only one release at a time);
- a deployment older than the stage's: CloudFormation is rolling back; restored at once;
- a newer deployment: canary, bake, promote or roll back.
"""

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from simple_api.errors import DomainError, InvalidInput

#: the longest bake one invocation can hold: Lambda's 15 minutes less the wait for quiet alarms
MAX_BAKE_SECONDS = 720
#: how long a canary alarm still in ALARM from an earlier canary may take to clear before opening
QUIET_WAIT_SECONDS = 90
MAX_PERCENT = 50.0


class CanaryRolledBack(DomainError):
    """A canary alarm fired: the canary was closed and the release must not proceed."""

    code = "CanaryRolledBack"


class CanaryRefused(DomainError):
    """The canary could not be opened (another one is open, the alarms are not quiet, no time)."""

    code = "CanaryRefused"


@dataclass(frozen=True)
class StageState:
    deployment_id: str
    canary_deployment_id: str | None = None  # None: the stage has no canary settings
    canary_percent: float = 0.0

    @property
    def open_canary(self) -> str | None:
        """The deployment a share of traffic goes to instead of the main one, if any."""
        if self.canary_deployment_id and self.canary_deployment_id != self.deployment_id and self.canary_percent > 0:
            return self.canary_deployment_id
        return None


@dataclass(frozen=True)
class Firing:
    alarm: str
    reason: str


class Stage(Protocol):
    def read(self) -> StageState | None: ...

    def created(self, deployment_id: str) -> float:
        """When the deployment was made (epoch seconds)."""
        ...

    def open_canary(self, deployment_id: str, percent: float) -> None: ...

    def promote(self, deployment_id: str) -> None:
        """The canary's deployment becomes the stage's; the canary settings go."""
        ...

    def restore(self, deployment_id: str) -> None:
        """The stage serves ``deployment_id``; no canary settings."""
        ...

    def close_canary(self) -> None:
        """No canary settings: every request is the main deployment's."""
        ...


class Alarms(Protocol):
    def firing(self, names: Sequence[str]) -> list[Firing]: ...


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


Progress = Callable[..., None]


def _quiet(message: str, **fields: Any) -> None:
    """The default progress report: none."""


@dataclass(frozen=True)
class Watch:
    """What a bake watches with: the alarms, the time, and where its progress is reported."""

    alarms: Alarms
    clock: Clock = field(default_factory=SystemClock)
    progress: Progress = _quiet


@dataclass(frozen=True)
class Release:
    rest_api_id: str
    stage: str
    deployment_id: str
    percent: float
    bake_seconds: int
    alarms: tuple[str, ...]
    release: str = ""


def parse(properties: Mapping[str, Any]) -> Release:
    """Validated resource properties; InvalidInput naming the property otherwise."""

    def text(name: str) -> str:
        value = properties.get(name)
        if not isinstance(value, str) or not value:
            raise InvalidInput(f"{name} must be a non-empty string")
        return value

    try:
        percent = float(properties.get("PercentTraffic", ""))
        bake = int(str(properties.get("BakeSeconds", "")))
    except ValueError:
        raise InvalidInput("PercentTraffic and BakeSeconds must be numbers") from None
    if not 0 < percent <= MAX_PERCENT:
        raise InvalidInput(f"PercentTraffic must be above 0 and at most {MAX_PERCENT:g}")
    if not 0 < bake <= MAX_BAKE_SECONDS:
        raise InvalidInput(f"BakeSeconds must be from 1 to {MAX_BAKE_SECONDS}")
    alarms = properties.get("Alarms")
    if not isinstance(alarms, list) or not alarms or not all(isinstance(a, str) and a for a in alarms):
        raise InvalidInput("Alarms must be a non-empty list of alarm names")
    release = properties.get("Release", "")
    return Release(
        rest_api_id=text("RestApiId"),
        stage=text("StageName"),
        deployment_id=text("DeploymentId"),
        percent=percent,
        bake_seconds=bake,
        alarms=tuple(alarms),
        release=release if isinstance(release, str) else "",
    )


@dataclass(frozen=True)
class Outcome:
    deployment_id: str  # what the stage's main deployment is afterwards
    summary: str


def poll_seconds(bake_seconds: int) -> float:
    """How often the alarms are read: ten times per bake, at least every 30 s, at most every second."""
    return max(1.0, min(30.0, bake_seconds / 10))


def release(wanted: Release, stage: Stage, watch: Watch, budget_seconds: float) -> Outcome:
    """Bring ``wanted.deployment_id`` to the stage through its canary (module docstring)."""
    progress = watch.progress
    current = stage.read()
    if current is None:
        return Outcome(wanted.deployment_id, f"no stage {wanted.stage} yet: it is created on {wanted.deployment_id}")
    busy = current.open_canary
    if current.deployment_id == wanted.deployment_id:
        summary = f"no API definition change: {current.deployment_id} already serves"
        if current.canary_deployment_id is not None:  # the template declares no canary settings
            stage.close_canary()
            summary += f"; closed the canary settings found on the stage ({busy or 'no traffic'})"
        return Outcome(current.deployment_id, summary)
    if busy is not None and busy != wanted.deployment_id:
        raise CanaryRefused(
            f"a canary of deployment {busy} is open on stage {wanted.stage}: refusing to stack another"
            f" ({wanted.deployment_id}); let it finish or close it (docs/api-canary.md)"
        )
    if busy is None and stage.created(wanted.deployment_id) < stage.created(current.deployment_id):
        stage.restore(wanted.deployment_id)
        progress("restored", deployment=wanted.deployment_id, replaced=current.deployment_id)
        return Outcome(
            wanted.deployment_id,
            f"restored {wanted.deployment_id} at once (older than {current.deployment_id}: a rollback)",
        )
    needed = wanted.bake_seconds + QUIET_WAIT_SECONDS + 2 * poll_seconds(wanted.bake_seconds)
    if needed > budget_seconds:
        raise CanaryRefused(f"a bake of {wanted.bake_seconds} s cannot finish in the {budget_seconds:.0f} s left")
    _wait_for_quiet(wanted, watch.alarms, watch.clock)
    if busy is None:
        stage.open_canary(wanted.deployment_id, wanted.percent)
    progress(
        "canary open",
        deployment=wanted.deployment_id,
        main=current.deployment_id,
        percent=wanted.percent,
        bake_seconds=wanted.bake_seconds,
        alarms=list(wanted.alarms),
        release=wanted.release,
    )
    _bake(wanted, current.deployment_id, stage, watch)
    stage.promote(wanted.deployment_id)
    summary = (
        f"promoted {wanted.deployment_id} (replacing {current.deployment_id}) after {wanted.bake_seconds} s"
        f" at {wanted.percent:g} % with {', '.join(wanted.alarms)} quiet"
    )
    progress("promoted", deployment=wanted.deployment_id, replaced=current.deployment_id, release=wanted.release)
    return Outcome(wanted.deployment_id, summary)


def _wait_for_quiet(wanted: Release, alarms: Alarms, clock: Clock) -> None:
    """Canary alarms see canary traffic only, so one still in ALARM is left from an earlier canary
    and clears once its period has no data; it gets QUIET_WAIT_SECONDS to do so."""
    deadline = clock.now() + QUIET_WAIT_SECONDS
    while firing := alarms.firing(wanted.alarms):
        if clock.now() >= deadline:
            raise CanaryRefused(
                f"{firing[0].alarm} was still in ALARM {QUIET_WAIT_SECONDS} s after the release began:"
                " the canary was not opened"
            )
        clock.sleep(poll_seconds(wanted.bake_seconds))


def _bake(wanted: Release, main: str, stage: Stage, watch: Watch) -> None:
    alarms, clock, progress = watch.alarms, watch.clock, watch.progress
    started = clock.now()
    end = started + wanted.bake_seconds
    while True:
        firing = alarms.firing(wanted.alarms)
        if firing:
            stage.close_canary()
            first = firing[0]
            progress("rolled back", deployment=wanted.deployment_id, alarm=first.alarm, reason=first.reason)
            raise CanaryRolledBack(
                f"rolled back: {first.alarm} in ALARM after {clock.now() - started:.0f} s of {wanted.bake_seconds} s"
                f" ({first.reason[:80]}); stage {wanted.stage} stays on {main}"
            )
        now = clock.now()
        if now >= end:
            return
        clock.sleep(min(poll_seconds(wanted.bake_seconds), end - now))


def close(wanted: Release, stage: Stage) -> None:
    """The resource is deleted (the canary turned off, or the stack deleted): no canary left open."""
    current = stage.read()
    if current is not None and current.canary_deployment_id is not None:
        stage.close_canary()
