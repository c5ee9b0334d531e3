"""A model of one API Gateway stage and a clock, for the API stage canary's tests (unit and
translation). moto does not model a stage's canary settings; the emulator tier runs the real
adapter against a local API Gateway. The model keeps API Gateway's documented rule that a stage
with canary settings may move only to the canary's deployment, so a promotion in the wrong order
fails here as it would there."""

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import boto3

from scripts import emulator_api_canary
from simple_api.services.api_canary import StageState


@dataclass
class ModelStage:
    """One stage: its state, when each deployment was made, and every state it went through."""

    state: StageState | None
    made: dict[str, float]
    history: list[StageState | None] = field(default_factory=list)

    def _set(self, state: StageState) -> None:
        self.state = state
        self.history.append(state)

    def read(self) -> StageState | None:
        return self.state

    def created(self, deployment_id: str) -> float:
        return self.made[deployment_id]

    def open_canary(self, deployment_id: str, percent: float) -> None:
        assert self.state is not None
        self._set(replace(self.state, canary_deployment_id=deployment_id, canary_percent=percent))

    def promote(self, deployment_id: str) -> None:
        assert self.state is not None
        assert self.state.canary_deployment_id == deployment_id, "a stage with a canary moves to its deployment only"
        self._set(StageState(deployment_id))

    def restore(self, deployment_id: str) -> None:
        self._set(StageState(deployment_id))

    def close_canary(self) -> None:
        assert self.state is not None
        self._set(StageState(self.state.deployment_id))


@dataclass
class Clock:
    """Seconds since the release began; ``at`` runs something once time has reached a moment."""

    time: float = 0.0
    slept: list[float] = field(default_factory=list)
    due: list[tuple[float, Callable[[], None]]] = field(default_factory=list)

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.slept.append(seconds)
        self.time += seconds
        for moment, action in [d for d in self.due if d[0] <= self.time]:
            self.due.remove((moment, action))
            action()

    def at(self, moment: float, action: Callable[[], None]) -> None:
        self.due.append((moment, action))


def quiet_alarm(name: str) -> None:
    """A canary alarm (as template.yaml makes them) in state OK, in the current (moto) account."""
    emulator_api_canary.quiet_alarm(boto3.client("cloudwatch"), name)
