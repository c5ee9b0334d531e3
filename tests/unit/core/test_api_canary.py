"""The API stage canary's decisions (simple_api.services.api_canary), with CloudWatch alarms in moto,
time that passes only when the service sleeps, and the stage model of tests/api_canary_model.py
(moto does not model canary settings; the emulator tier runs the adapter against a local API
Gateway: scripts/emulator_api_canary.py)."""

from collections.abc import Callable, Iterator

import boto3
import pytest
from moto import mock_aws

from simple_api.adapters.apigateway import CloudWatchAlarms
from simple_api.errors import InvalidInput
from simple_api.services import api_canary
from simple_api.services.api_canary import CanaryRefused, CanaryRolledBack, Release, StageState
from tests.api_canary_model import Clock, ModelStage, quiet_alarm

ALARMS = ("aws-cicd-prod-api-canary-5xx", "aws-cicd-prod-api-canary-client-errors")
BAKE = 600
BUDGET = 880.0


@pytest.fixture
def alarms() -> Iterator[CloudWatchAlarms]:
    with mock_aws():
        for name in ALARMS:
            quiet_alarm(name)
        yield CloudWatchAlarms(boto3.client("cloudwatch"))


def set_state(name: str, value: str, reason: str = "") -> Callable[[], None]:
    return lambda: boto3.client("cloudwatch").set_alarm_state(AlarmName=name, StateValue=value, StateReason=reason)


def wanted(deployment: str = "d2", bake: int = BAKE) -> Release:
    return Release("api123", "prod", deployment, 10.0, bake, ALARMS, "exec-1")


def stage_on(main: str = "d1", **canary: object) -> ModelStage:
    return ModelStage(StageState(main, **canary), {"d0": 50.0, "d1": 100.0, "d2": 200.0, "d3": 300.0})  # type: ignore[arg-type]


def run(stage: ModelStage, alarms: CloudWatchAlarms, clock: Clock, release: Release | None = None):
    return api_canary.release(release or wanted(), stage, api_canary.Watch(alarms, clock), BUDGET)


# ---------------------------------------------------------------- properties
PROPERTIES = {
    "RestApiId": "api123",
    "StageName": "prod",
    "DeploymentId": "d2",
    "PercentTraffic": "10",
    "BakeSeconds": "600",
    "Alarms": list(ALARMS),
    "Release": "exec-1",
}


def test_properties_parse_as_cloudformation_sends_them():
    assert api_canary.parse(PROPERTIES) == Release("api123", "prod", "d2", 10.0, 600, ALARMS, "exec-1")
    assert api_canary.parse({**PROPERTIES, "Release": ""}).release == ""


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"RestApiId": ""}, "RestApiId"),
        ({"StageName": None}, "StageName"),
        ({"DeploymentId": 7}, "DeploymentId"),
        ({"PercentTraffic": "0"}, "PercentTraffic"),
        ({"PercentTraffic": "51"}, "PercentTraffic"),
        ({"PercentTraffic": "ten"}, "PercentTraffic"),
        ({"BakeSeconds": "0"}, "BakeSeconds"),
        ({"BakeSeconds": str(api_canary.MAX_BAKE_SECONDS + 1)}, "BakeSeconds"),
        ({"Alarms": []}, "Alarms"),
        ({"Alarms": "one"}, "Alarms"),
    ],
)
def test_bad_properties_name_the_property(change, named):
    with pytest.raises(InvalidInput, match=named):
        api_canary.parse({k: v for k, v in {**PROPERTIES, **change}.items() if v is not None})


def test_the_longest_bake_and_its_waits_fit_one_lambda_invocation():
    worst = api_canary.MAX_BAKE_SECONDS + api_canary.QUIET_WAIT_SECONDS + 2 * api_canary.poll_seconds(720)
    assert worst <= 900 - 20  # Lambda's limit less the handler's margin


@pytest.mark.parametrize(("bake", "poll"), [(10, 1.0), (60, 6.0), (600, 30.0), (5, 1.0)])
def test_alarms_are_read_ten_times_a_bake_at_most_every_30_seconds(bake, poll):
    assert api_canary.poll_seconds(bake) == poll


# ---------------------------------------------------------------- a release
def test_a_quiet_bake_promotes_and_the_main_stage_kept_the_previous_deployment_until_then(alarms):
    stage, clock = stage_on("d1"), Clock()
    during: list[StageState | None] = []
    clock.at(1, lambda: during.append(stage.read()))
    outcome = run(stage, alarms, clock)
    assert during == [StageState("d1", "d2", 10.0)]  # the new definition in the canary only
    assert stage.state == StageState("d2")  # promoted: no canary settings left, as the template says
    assert clock.time >= BAKE and max(clock.slept) <= api_canary.poll_seconds(BAKE)
    assert outcome.deployment_id == "d2"
    assert outcome.summary.startswith("promoted d2 (replacing d1) after 600 s at 10 %")


def test_an_alarm_during_the_bake_rolls_back_and_the_stage_stays_on_the_previous_deployment(alarms):
    stage, clock = stage_on("d1"), Clock()
    clock.at(95, set_state(ALARMS[1], "ALARM", "Threshold Crossed: 1 datapoint [42.0] >= 10"))
    with pytest.raises(CanaryRolledBack) as failed:
        run(stage, alarms, clock)
    assert stage.state == StageState("d1")  # every request is the main deployment's again
    assert stage.history == [StageState("d1", "d2", 10.0), StageState("d1")]
    assert 95 <= clock.time < 95 + api_canary.poll_seconds(BAKE) + 1
    message = str(failed.value)
    assert message.startswith(f"rolled back: {ALARMS[1]} in ALARM after")
    assert "Threshold Crossed" in message and "stays on d1" in message


def test_a_second_release_while_a_canary_is_open_is_refused_and_the_open_one_is_untouched(alarms):
    stage, clock = stage_on("d1", canary_deployment_id="d2", canary_percent=10.0), Clock()
    with pytest.raises(CanaryRefused, match="a canary of deployment d2 is open on stage prod: refusing to stack"):
        run(stage, alarms, clock, wanted("d3"))
    assert stage.state == StageState("d1", "d2", 10.0) and stage.history == []
    assert clock.time == 0


def test_no_definition_change_touches_nothing(alarms):
    stage, clock = stage_on("d1"), Clock()
    outcome = run(stage, alarms, clock, wanted("d1"))
    assert (outcome.deployment_id, stage.history, clock.time) == ("d1", [], 0)
    assert outcome.summary == "no API definition change: d1 already serves"


def test_canary_settings_left_on_the_stage_are_removed_when_nothing_changed(alarms):
    """What a rollback after a closed canary asks, and what converges a canary opened by hand."""
    stage, clock = stage_on("d1", canary_deployment_id="d2", canary_percent=10.0), Clock()
    outcome = run(stage, alarms, clock, wanted("d1"))
    assert stage.state == StageState("d1") and clock.time == 0
    assert "closed the canary settings found on the stage (d2)" in outcome.summary


def test_an_older_deployment_is_cloudformation_rolling_back_and_is_restored_at_once(alarms):
    stage, clock = stage_on("d2"), Clock()
    outcome = run(stage, alarms, clock, wanted("d1"))
    assert stage.state == StageState("d1") and clock.time == 0
    assert outcome.summary.startswith("restored d1 at once (older than d2")


def test_no_stage_yet_means_the_stack_is_being_created(alarms):
    stage, clock = ModelStage(None, {}), Clock()
    outcome = run(stage, alarms, clock)
    assert (outcome.deployment_id, stage.history, clock.time) == ("d2", [], 0)


def test_an_alarm_left_from_an_earlier_canary_delays_the_opening_until_it_clears(alarms):
    set_state(ALARMS[0], "ALARM", "left over")()
    stage, clock = stage_on("d1"), Clock()
    clock.at(70, set_state(ALARMS[0], "OK", "no data"))
    run(stage, alarms, clock)
    assert stage.history[0] == StageState("d1", "d2", 10.0)
    assert clock.time >= 70 + BAKE  # the bake began once the alarm had cleared
    assert stage.state == StageState("d2")


def test_an_alarm_that_does_not_clear_refuses_the_release_before_any_traffic_moves(alarms):
    set_state(ALARMS[0], "ALARM", "left over")()
    stage, clock = stage_on("d1"), Clock()
    with pytest.raises(CanaryRefused, match="still in ALARM 90 s after the release began"):
        run(stage, alarms, clock)
    assert stage.history == []


def test_a_bake_that_cannot_finish_in_time_is_refused_before_opening(alarms):
    stage, clock = stage_on("d1"), Clock()
    with pytest.raises(CanaryRefused, match="cannot finish"):
        api_canary.release(wanted(), stage, api_canary.Watch(alarms, clock), budget_seconds=BAKE)
    assert stage.history == []


def test_progress_reports_the_opening_and_the_verdict(alarms):
    seen: list[tuple[str, dict[str, object]]] = []
    watch = api_canary.Watch(alarms, Clock(), lambda m, **f: seen.append((m, f)))
    api_canary.release(wanted(bake=30), stage_on("d1"), watch, BUDGET)
    assert [m for m, _ in seen] == ["canary open", "promoted"]
    assert seen[0][1] | {"alarms": None} == {
        "deployment": "d2",
        "main": "d1",
        "percent": 10.0,
        "bake_seconds": 30,
        "alarms": None,
        "release": "exec-1",
    }


def test_delete_closes_an_open_canary_and_leaves_the_main_deployment():
    stage = stage_on("d1", canary_deployment_id="d2", canary_percent=10.0)
    api_canary.close(wanted(), stage)
    assert stage.state == StageState("d1")
    gone = ModelStage(None, {})
    api_canary.close(wanted(), gone)
    assert gone.history == []


def test_only_alarms_in_alarm_fire(alarms):
    set_state(ALARMS[0], "INSUFFICIENT_DATA")()
    assert alarms.firing(ALARMS) == []
    set_state(ALARMS[1], "ALARM", "why")()
    assert alarms.firing(ALARMS) == [api_canary.Firing(ALARMS[1], "why")]
