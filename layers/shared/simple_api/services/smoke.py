"""Smoke tests of a new Lambda version with the events/ fixtures: the PreTraffic hook runs them
against each new version before traffic moves, the PostTraffic hook through the alias once it
carries all traffic (and checks the alias really answers with the new version).

``events/expected.json`` says what each ``<function>_<case>.json`` must answer; the unit tests
check the same table in-process, so a fixture or an expectation cannot rot unnoticed. Every event
the hooks send is marked synthetic in its requestContext (see simple_api.http.traffic), so their
deliberate bad input never counts as users'.
"""

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simple_api.errors import DomainError
from simple_api.http import SYNTHETIC_CONTEXT_KEY

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


def marked(event: Mapping[str, Any], phase: str) -> dict[str, Any]:
    """The fixture as the hook sends it: its requestContext says who asks (API Gateway writes that
    object itself, so no caller of the API can set it)."""
    context = event.get("requestContext")
    return {
        **event,
        "requestContext": {**(context if isinstance(context, Mapping) else {}), SYNTHETIC_CONTEXT_KEY: phase},
    }


def run(
    cases: Iterable[Case],
    targets: Mapping[str, str],
    invoke: Callable[[str, Mapping[str, Any]], Mapping[str, Any]],
    preconditions: frozenset[str] = DEPLOYED_PRECONDITIONS,
    phase: str = "pre-traffic",
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
            found = problem(case, invoke(target, marked(case.event, phase)))
        except DomainError as error:
            found = f"{case.fixture}: {error.message}"
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
    """All problems of a deployment's new versions (PreTraffic); a broken fixture table or target
    list is a problem too."""
    try:
        cases = load_cases(events_dir)
        targets = parse_targets(targets_text)
    except (OSError, ValueError, KeyError, TypeError) as error:
        return [f"cannot run the checks: {error}"]
    return run(cases, targets, invoke)


def alias_of(version_arn: str, alias: str) -> tuple[str, str]:
    """``arn:...:function:f:7`` and ``live`` -> (``arn:...:function:f:live``, ``7``)."""
    function, _, version = version_arn.rpartition(":")
    if not (function and version.isdigit() and alias):
        raise ValueError(f"not a published version ARN: {version_arn!r}")
    return f"{function}:{alias}", version


def check_live(
    events_dir: Path,
    targets_text: str | None,
    alias: str,
    invoke_alias: Callable[[str, Mapping[str, Any], str], Mapping[str, Any]],
) -> list[str]:
    """All problems once traffic has moved (PostTraffic): each fixture through the alias, which must
    answer with the new version (``invoke_alias(alias_arn, event, version)`` checks that)."""
    try:
        cases = load_cases(events_dir)
        versions = {name: alias_of(arn, alias) for name, arn in parse_targets(targets_text).items()}
    except (OSError, ValueError, KeyError, TypeError) as error:
        return [f"cannot run the checks: {error}"]
    expected = dict(versions.values())
    targets = {name: alias_arn for name, (alias_arn, _) in versions.items()}
    return run(
        cases,
        targets,
        lambda alias_arn, event: invoke_alias(alias_arn, event, expected[alias_arn]),
        phase="post-traffic",
    )
