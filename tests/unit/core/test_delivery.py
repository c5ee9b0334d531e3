"""The delivery metrics' rules, over stage histories built by hand (every case that changes them)."""

from datetime import UTC, datetime, timedelta

import pytest

from simple_api.services.delivery import StageEnded, StageRun, measure

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def run(execution: str, stage: str, start: float, end: float, *, failed: bool = False) -> StageRun:
    return StageRun(execution, stage, failed, at(start), at(end))


def named(found):
    return {m.name: m.value for m in found}


def test_the_first_prod_deployment_counts_and_has_a_lead_time_from_the_push():
    history = [run("a", "Source", 0, 1), run("a", "Build", 1, 9), run("a", "DeployProd", 40, 50)]
    assert named(measure(StageEnded("a", "DeployProd", "SUCCEEDED", at(50)), history)) == {
        "Deployments": 1,
        "LeadTime": 50 * 60,
    }


def test_a_prod_deployment_after_failures_measures_the_time_to_restore_from_the_first_one():
    history = [
        run("a", "DeployProd", 0, 10),
        run("b", "Build", 20, 25, failed=True),
        run("c", "TestDev", 30, 40, failed=True),
        run("d", "Source", 50, 51),
        run("d", "DeployProd", 80, 90),
    ]
    found = named(measure(StageEnded("d", "DeployProd", "SUCCEEDED", at(90)), history))
    assert found["TimeToRestore"] == (90 - 25) * 60  # from b's failure, the first since a's deployment
    assert found["LeadTime"] == (90 - 50) * 60


def test_failures_before_the_previous_deployment_are_already_restored():
    history = [run("b", "Build", 0, 5, failed=True), run("c", "DeployProd", 10, 20), run("d", "DeployProd", 30, 40)]
    assert "TimeToRestore" not in named(measure(StageEnded("d", "DeployProd", "SUCCEEDED", at(40)), history))


def test_a_failure_measures_the_time_since_the_previous_failure():
    history = [run("a", "DeployDev", 0, 10, failed=True), run("b", "Build", 20, 30)]
    found = named(measure(StageEnded("b", "Build", "FAILED", at(30)), history))
    assert found == {"Failures": 1, "TimeBetweenFailures": 20 * 60}


def test_the_first_failure_has_nothing_to_measure_from():
    assert named(measure(StageEnded("a", "Build", "FAILED", at(5)), [run("a", "Build", 0, 5, failed=True)])) == {
        "Failures": 1
    }


@pytest.mark.parametrize(
    ("stage", "state"),
    [
        ("ApproveProd", "FAILED"),  # a rejected approval is a decision, not a failure
        ("Teardown", "FAILED"),
        ("Source", "FAILED"),
        ("DeployDev", "SUCCEEDED"),  # only prod deployments count
        ("DeployProd", "STARTED"),
        ("DeployProd", "CANCELED"),
        ("DeployProd", "STOPPED"),
    ],
)
def test_decisions_other_stages_and_other_states_measure_nothing(stage, state):
    assert measure(StageEnded("a", stage, state, at(60)), [run("b", "Build", 0, 5, failed=True)]) == []


def test_clock_skew_never_gives_a_negative_duration():
    history = [run("a", "Source", 10, 11)]
    (_deployments, lead) = measure(StageEnded("a", "DeployProd", "SUCCEEDED", at(5)), history)
    assert lead.value == 0.0
