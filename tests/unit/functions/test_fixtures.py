"""Every events/ fixture, invoked in-process against its handler, answers as events/expected.json says.

The PreTraffic hook checks the same table against each new version in AWS, so a fixture, an
expectation or a handler cannot drift without a test failing here first.
"""

import json

import pytest

from simple_api.services import smoke
from tests.factories import EVENTS
from tests.unit.functions.conftest import handler

CASES = smoke.load_cases(EVENTS)


def test_every_fixture_has_an_expectation_and_every_expectation_a_fixture():
    fixtures = {path.name for path in EVENTS.glob("*.json")} - {smoke.EXPECTATIONS_FILE}
    assert fixtures == {case.fixture for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[case.fixture for case in CASES])
def test_fixture_answers_as_documented(case, request, lambda_context, no_sleep):
    request.getfixturevalue("secret" if case.needs == "secret" else "aws")
    answer = handler(case.function)(json.loads(json.dumps(case.event)), lambda_context)
    assert smoke.problem(case, answer) is None, answer
