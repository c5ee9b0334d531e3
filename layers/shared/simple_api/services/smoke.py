"""Smoke tests of a new Lambda version with the events/ fixtures (used by the PreTraffic hook).

``events/expected.json`` says what each ``<function>_<case>.json`` must answer; the unit tests
check the same table in-process, so a fixture or an expectation cannot rot unnoticed.
"""

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXPECTATIONS_FILE = "expected.json"
#: preconditions a deployed stack satisfies (the secret exists there)
DEPLOYED_PRECONDITIONS = frozenset({"secret"})


@dataclass(frozen=True)
class Case:
    function: str
    fixture: str
    event: Mapping[str, Any]
    status: int
    body: str | None = None
    json: Mapping[str, Any] = field(default_factory=dict)
    json_keys: frozenset[str] = frozenset()
    needs: str | None = None


def load_cases(events_dir: Path) -> list[Case]:
    """Every case of ``expected.json`` with its event; the function is the fixture name's prefix."""
    table = json.loads((events_dir / EXPECTATIONS_FILE).read_text())
    cases = []
    for fixture, spec in sorted(table.items()):
        if fixture.startswith("_"):
            continue
        function = fixture.removesuffix(".json").rsplit("_", 1)[0]
        cases.append(
            Case(
                function=function,
                fixture=fixture,
                event=json.loads((events_dir / fixture).read_text()),
                status=int(spec["status"]),
                body=spec.get("body"),
                json=spec.get("json", {}),
                json_keys=frozenset(spec.get("json_keys", ())),
                needs=spec.get("needs"),
            )
        )
    return cases


def problem(case: Case, response: Mapping[str, Any]) -> str | None:
    """What is wrong with ``response`` for ``case``, or None when it is as documented."""
    status = response.get("statusCode")
    if status != case.status:
        return f"{case.fixture}: status {status}, expected {case.status}"
    body = response.get("body")
    if case.body is not None and body != case.body:
        return f"{case.fixture}: body {body!r}, expected {case.body!r}"
    if case.json or case.json_keys:
        try:
            document = json.loads(body) if isinstance(body, str) else None
        except ValueError:
            document = None
        if not isinstance(document, dict):
            return f"{case.fixture}: body is not a JSON object"
        if case.json_keys and set(document) != case.json_keys:
            return f"{case.fixture}: JSON keys {sorted(document)}, expected {sorted(case.json_keys)}"
        for key, value in case.json.items():
            if document.get(key) != value:
                return f"{case.fixture}: {key}={document.get(key)!r}, expected {value!r}"
    return None


def run(
    cases: Iterable[Case],
    targets: Mapping[str, str],
    invoke: Callable[[str, Mapping[str, Any]], Mapping[str, Any]],
    preconditions: frozenset[str] = DEPLOYED_PRECONDITIONS,
) -> list[str]:
    """Invoke each target with its cases; return the problems found (empty: all good).

    Never raises: a failed invocation is a problem like any other, so the caller can always report.
    """
    problems = []
    ran = 0
    for case in cases:
        target = targets.get(case.function)
        if target is None or (case.needs is not None and case.needs not in preconditions):
            continue
        ran += 1
        try:
            found = problem(case, invoke(target, case.event))
        except Exception as error:
            found = f"{case.fixture}: invocation failed ({type(error).__name__})"
        if found:
            problems.append(found)
    missing = sorted(set(targets) - {case.function for case in cases})
    problems.extend(f"{name}: no fixture to test it with" for name in missing)
    if not ran and not missing:
        problems.append("no case ran")
    return problems


def parse_targets(text: str | None) -> dict[str, str]:
    """``home=arn:...:3,sleep=arn:...:7`` -> {"home": "arn:...:3", "sleep": "arn:...:7"}."""
    targets = {}
    for item in (text or "").split(","):
        name, sep, arn = item.strip().partition("=")
        if not (sep and name.strip() and arn.strip()):
            raise ValueError("PRE_TRAFFIC_TARGETS must be name=arn pairs separated by commas")
        targets[name.strip()] = arn.strip()
    return targets


def check_deployment(
    events_dir: Path, targets_text: str | None, invoke: Callable[[str, Mapping[str, Any]], Mapping[str, Any]]
) -> list[str]:
    """All problems of a deployment; a broken fixture table or target list is a problem too."""
    try:
        cases = load_cases(events_dir)
        targets = parse_targets(targets_text)
    except (OSError, ValueError, KeyError, TypeError) as error:
        return [f"cannot run the checks: {error}"]
    return run(cases, targets, invoke)
